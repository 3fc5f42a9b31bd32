"""Property-based fuzzing of every socket event (PROTOCOL §3): whatever a client sends, the
answer is an ack envelope with a client error code (never ``internal``), the socket stays
connected, and nothing stored is garbage. Raw Socket.IO packets that no client library would
send (bad JSON, binary, unknown types) cost only their own connection.

Hypothesis runs in a worker thread and drives the real client on the test's event loop
(hypothesis' ``@given`` cannot await), so every example goes through a real gateway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import orjson
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley_common.sanitize import is_sanitized, unescape_text
from tests.gateway.conftest import Stack, message_payload
from tests.security.conftest import assert_nothing_stored_is_garbage
from tests.security.surface import SOCKET_EVENTS

T = TypeVar("T")
CLIENT_ERRORS = {"invalid_payload", "forbidden", "not_found", "rate_limited"}
EXAMPLES = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck), print_blob=True
)

# ---- strategies ----------------------------------------------------------------------

# (The in-process client shares the gateway's orjson codec: no integers beyond 64 bits and
# no lone surrogates through it. Raw packets below carry those.)
texts = st.one_of(
    st.text(max_size=30),  # controls included
    st.sampled_from(["", " ", "\x00", "..", "a/b", "%2e%2e", "<script>", "x" * 300, "é" * 201]),
)
numbers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.sampled_from([0, 1, 2**53, 2**63 - 1, 2**63, 2**64 - 1, -1]),
    st.floats(allow_nan=False, allow_infinity=False),
)
leaves = st.one_of(st.none(), st.booleans(), numbers, texts)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
FIELDS = ["conversationId", "clientMessageId", "body", "upToSeq", "afterSeq", "since", "limit"]


@st.composite
def payloads(draw: st.DrawFn, conversations: list[str]) -> Any:
    """Mostly objects with the event's field names (right or wrong types), sometimes anything."""
    if draw(st.integers(0, 9)) == 0:
        return draw(values)
    chosen = draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=len(FIELDS)))
    payload: dict[str, Any] = {name: draw(values) for name in chosen}
    if draw(st.booleans()):
        payload["conversationId"] = draw(st.sampled_from(conversations))
    if "body" in payload and draw(st.booleans()):
        payload["body"] = draw(st.text(max_size=50))
    if "upToSeq" in payload and draw(st.booleans()):
        payload["upToSeq"] = draw(st.integers(0, 10))
    return payload


def run_in(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=30)


def check_ack(event: str, payload: Any, ack: Any) -> None:
    assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), (event, payload, ack)
    if not ack["ok"]:
        error = ack["error"]
        assert error["code"] in CLIENT_ERRORS, (event, payload, ack)
        assert isinstance(error["message"], str) and error["message"], (event, payload, ack)
    elif event == "message:send":
        body = ack["message"]["body"]
        assert is_sanitized(body) and 0 < len(unescape_text(body)) <= 4000, (payload, ack)


# ---- events ----------------------------------------------------------------------------


async def test_every_event_answers_any_payload_with_a_client_error_or_success(
    stack: Stack, user: Callable[[str], str], postgres_url: str
) -> None:
    alice, bob, mallory = user("alice"), user("bob"), user("mallory")
    mine = await stack.conversation(alice, bob)
    theirs = await stack.conversation(bob, mallory)
    client = await stack.socket(alice)
    loop = asyncio.get_running_loop()
    seen: dict[str, int] = {}

    @EXAMPLES
    @given(event=st.sampled_from(SOCKET_EVENTS), payload=payloads([mine, theirs, "no-such-conversation"]))
    def fuzz(event: str, payload: Any) -> None:
        ack = run_in(loop, client.call(event, payload))
        check_ack(event, payload, ack)
        outcome = "ok" if ack["ok"] else ack["error"]["code"]
        seen[outcome] = seen.get(outcome, 0) + 1

    @EXAMPLES
    @given(event=texts, args=st.lists(values, max_size=3))
    def fuzz_names_and_arity(event: str, args: list[Any]) -> None:
        ack = run_in(loop, client.sio.call(event, tuple(args), timeout=10))
        assert ack["ok"] is False or event in SOCKET_EVENTS, (event, args, ack)
        check_ack(event, args, ack)

    await asyncio.to_thread(fuzz)
    await asyncio.to_thread(fuzz_names_and_arity)

    assert client.sio.connected
    assert {"ok", "invalid_payload"} <= set(seen), seen  # the fuzzer reached both sides
    after = await client.call("message:send", message_payload(mine, "still talking"))
    assert after["ok"] or after["error"]["code"] == "rate_limited"
    await assert_nothing_stored_is_garbage(postgres_url, [mine, theirs])
    other = await stack.socket(mallory)
    synced = await other.call("messages:sync", {"conversationId": theirs})
    assert synced["messages"] == []  # nothing of alice's fuzzing landed where she is no member


# ---- raw packets -------------------------------------------------------------------------

frames = st.one_of(
    st.text(max_size=40).map(lambda tail: "4" + tail),  # a Socket.IO packet of any shape
    st.builds(
        lambda n, body: f"42{n}{body}", st.sampled_from(["", "1", "99999999999"]), st.text(max_size=40)
    ),
    st.sampled_from(
        [
            "42" + "[" * 3000 + "]" * 3000,
            '42["message:send", {',
            '421["message:read", {"conversationId": "x", "upToSeq": NaN}]',
            '422["message:read", {"conversationId": "x", "upToSeq": 1' + "0" * 40 + "}]",
            '423["message:send", {"conversationId": "x", "clientMessageId": "k", "body": "\\ud83d"}]',
            '451-["message:send",{"_placeholder":true,"num":0}]',
            '4999999999-["x"]',
            "41",
            "44{}",
            "9",
            "6",
        ]
    ),
    st.binary(max_size=40),
)


async def test_malformed_packets_harm_only_their_own_connection(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob = user("alice"), user("bob")
    conversation = await stack.conversation(alice, bob)
    bystander = await stack.joined(bob, conversation)
    url = stack.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    loop = asyncio.get_running_loop()

    async def attack(packets: list[str | bytes]) -> None:
        async with websockets.connect(url) as ws:
            await ws.recv()  # Engine.IO OPEN
            await ws.send("40" + orjson.dumps({"token": stack.token(alice)}).decode())
            assert str(await ws.recv()).startswith("40")
            try:
                for packet in packets:
                    await ws.send(packet)
                await ws.send('42999["messages:sync",{"conversationId":"' + conversation + '"}]')
                # The server either closed this connection (a binary or malformed packet: an
                # Engine.IO CLOSE, "1") or still answers its events, in order.
                while not (reply := str(await ws.recv())).startswith(("43999", "1")):
                    assert reply[:1] in "234", reply
            except websockets.ConnectionClosed:
                pass

    @EXAMPLES
    @given(packets=st.lists(frames, min_size=1, max_size=4))
    def fuzz(packets: list[str | bytes]) -> None:
        run_in(loop, attack(packets))

    await asyncio.to_thread(fuzz)

    ack = await bystander.call("message:send", message_payload(conversation, "unaffected"))
    assert ack["ok"] is True
    assert bystander.sio.connected


async def test_a_lone_surrogate_is_answered_not_dropped(
    stack: Stack, user: Callable[[str], str], postgres_url: str
) -> None:
    """``"\\ud83d"`` is valid JSON (a JS string cut inside an emoji) that orjson refuses: the
    event must still get its ack, ``invalid_payload``, and store nothing."""
    alice = user("alice")
    conversation = await stack.conversation(alice)
    url = stack.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    answers = []
    async with websockets.connect(url) as ws:
        await ws.recv()
        await ws.send("40" + orjson.dumps({"token": stack.token(alice)}).decode())
        assert str(await ws.recv()).startswith("40")
        for n, field in enumerate(("body", "clientMessageId", "conversationId")):
            payload = {"conversationId": conversation, "clientMessageId": f"k{n}", "body": "hi"}
            packet = orjson.dumps(["message:send", payload | {field: "@"}]).decode().replace("@", "\\ud83d")
            await ws.send(f"42{n}{packet}")
            while not (reply := str(await ws.recv())).startswith(f"43{n}"):
                pass
            answers.append(orjson.loads(reply[3:])[0])

    assert [a["error"]["code"] for a in answers] == ["invalid_payload"] * 3, answers
    assert await assert_nothing_stored_is_garbage(postgres_url, [conversation]) == 0
