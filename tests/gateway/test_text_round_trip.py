"""Nothing typed is lost (PROTOCOL §4.2): a corpus of texts people type, and hypothesis' texts,
sent over the socket and over HTTP, each come back (in the answer, live, in sync) decoding to
exactly the normalized text, and nothing stored or returned holds a raw ``<`` or ``>``.

The expected text is §4.2's normalization spelled out in the test
(``tests/common/test_sanitize.py::expected_normalized``); decoding is done twice, by the SDKs'
rule and by Python's HTML unescaper (what a browser shows for the text inserted as it is).
"""

from __future__ import annotations

import asyncio
import html
import itertools
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parley_common.sanitize import unescape_text
from tests.common.test_sanitize import expected_normalized, texts
from tests.gateway.conftest import Stack
from tests.security.test_fuzz_events import run_in
from tests.support.sockets import SocketClient
from tests.support.texts import CORPUS

SENDERS = 24


async def send_by_socket(client: SocketClient, conversation_id: str, text: str) -> dict[str, Any]:
    """``message:send`` as an SDK does it: a ``rate_limited`` answer is retried after ``retryAfterMs``."""
    payload = {"conversationId": conversation_id, "clientMessageId": str(uuid.uuid4()), "body": text}
    while True:
        ack: dict[str, Any] = await client.call("message:send", payload)
        if ack["ok"] or ack["error"]["code"] != "rate_limited":
            return ack
        await asyncio.sleep(ack["error"]["retryAfterMs"] / 1000)  # the server's own instruction


async def send_by_http(stack: Stack, user_id: str, conversation_id: str, text: str) -> dict[str, Any]:
    payload = {"clientMessageId": str(uuid.uuid4()), "body": text}
    while True:
        answer = await stack.http.post(
            f"/api/conversations/{conversation_id}/messages", json=payload, headers=stack.auth(user_id)
        )
        if answer.status_code != 429:
            assert answer.status_code == 201, (text, answer.text)
            message: dict[str, Any] = answer.json()["message"]
            return message
        await asyncio.sleep(float(answer.headers["Retry-After"]))


def assert_round_trip(body: str, typed: str) -> None:
    normalized = expected_normalized(typed)
    assert "<" not in body and ">" not in body, (typed, body)
    assert unescape_text(body) == normalized, (typed, body)
    assert html.unescape(body) == normalized, (typed, body)


async def stored_bodies(database_url: str, conversation_id: str) -> list[str]:
    conn = await asyncpg.connect(database_url, timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT body, body_escaped FROM messages WHERE conversation_id = $1 ORDER BY seq", conversation_id
        )
    finally:
        await conn.close()
    assert all(row["body_escaped"] for row in rows)
    return [row["body"] for row in rows]


async def test_a_corpus_of_typed_texts_comes_back_as_typed_over_socket_and_http(
    stack: Stack, user: Callable[[str], str], postgres_url: str
) -> None:
    assert len(CORPUS) >= 200 and all(expected_normalized(text) for text in CORPUS)
    senders = [user(f"sender{n}") for n in range(SENDERS)]
    reader = user("reader")
    conversation_id = await stack.conversation(reader, *senders)
    receiver = await stack.joined(reader, conversation_id)
    sockets = [await stack.socket(sender) for sender in senders]
    share = {n: CORPUS[n::SENDERS] for n in range(SENDERS)}

    async def send_share(n: int) -> list[tuple[str, dict[str, Any]]]:
        sent = []
        for text in share[n]:
            ack = await send_by_socket(sockets[n], conversation_id, text)
            assert ack["ok"], (text, ack)
            sent.append((text, ack["message"]))
            sent.append((text, await send_by_http(stack, senders[n], conversation_id, text)))
        return sent

    sent = list(itertools.chain(*await asyncio.gather(*(send_share(n) for n in range(SENDERS)))))
    by_id = {message["id"]: (text, message) for text, message in sent}
    live = [(await receiver.next("message:new"))["message"] for _ in sent]
    synced: list[dict[str, Any]] = []
    while len(synced) < len(sent):
        page = await receiver.call(
            "messages:sync", {"conversationId": conversation_id, "afterSeq": len(synced), "limit": 500}
        )
        synced += page["messages"]

    assert len(by_id) == len(sent) == 2 * len(CORPUS)
    for message in live + synced:
        text, answered = by_id[message["id"]]
        assert message == answered
        assert_round_trip(message["body"], text)
    stored = await stored_bodies(postgres_url, conversation_id)
    assert stored == [m["body"] for m in synced]


async def test_any_text_comes_back_as_normalized_over_socket_and_http(
    stack: Stack, user: Callable[[str], str], postgres_url: str
) -> None:
    senders = [user(f"sender{n}") for n in range(8)]
    conversation_id = await stack.conversation(senders[0], *senders[1:])
    sockets = [await stack.socket(sender) for sender in senders]
    turn = itertools.cycle(range(len(senders)))
    loop = asyncio.get_running_loop()
    sent: list[tuple[str, str]] = []

    async def round_trip(text: str) -> None:
        n = next(turn)
        ack = await send_by_socket(sockets[n], conversation_id, text)
        if not expected_normalized(text):  # nothing left to store: refused both ways
            assert ack["error"]["code"] == "invalid_payload"
            return
        assert ack["ok"], (text, ack)
        over_http = await send_by_http(stack, senders[n], conversation_id, text)
        for message in (ack["message"], over_http):
            assert_round_trip(message["body"], text)
            sent.append((message["body"], text))

    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(texts, st.text(st.characters(codec="utf-8"), max_size=200)))
    def property_(text: str) -> None:
        run_in(loop, round_trip(text))

    await asyncio.to_thread(property_)

    stored = await stored_bodies(postgres_url, conversation_id)
    assert stored == [body for body, _ in sent]
    assert all("<" not in body and ">" not in body for body in stored)
