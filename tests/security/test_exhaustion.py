"""Nothing a stranger (or a member) sends can exhaust a gateway (issue 15's findings, each
reproduced as it was found): real processes in the production topology (messages, presence,
two gateways on the real PostgreSQL and Redis), real sockets on the loopback, and the
gateway's own memory and task count read while the attack runs."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from parley_common.auth import mint_token
from parley_common.config import EventLimitSettings
from parley_gateway.config import GatewaySettings
from parley_gateway.sio.namespace import LIMITED_EVENTS
from tests.cluster.conftest import (
    INTERNAL_TOKEN,
    SECRET,
    Cluster,
    cluster_environment,
    new_key,
    running_cluster,
)
from tests.security.attacks import (
    DeafWebSocket,
    metric,
    polling_session,
    raw_request,
    tasks_of,
    until,
    watching,
)
from tests.security.surface import SOCKET_EVENTS
from tests.support.sockets import SocketClient

PER_ADDRESS = 120  # MAX_CONNECTIONS_PER_ADDRESS of these gateways (every test's sockets count)
LIMITS = EventLimitSettings().event_limits()
# What a gateway may gain under an attack (a few buffers, pools warming up) and what it may not.
GROWTH_MB = 30
TASKS_LEFT = 5


@pytest.fixture(scope="module")
def topology(
    postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    prefix = f"parley-test-{uuid.uuid4().hex[:10]}"
    env = cluster_environment(postgres_url=postgres_url, redis_url=redis_url, redis_prefix=prefix)
    env |= {"MAX_CONNECTIONS_PER_ADDRESS": str(PER_ADDRESS)}
    with running_cluster(env, tmp_path_factory.mktemp("exhaustion"), api_proxy=True) as cluster:
        yield cluster


@pytest.fixture
async def cluster(topology: Cluster) -> Any:
    try:
        yield topology
    finally:
        for client in topology.clients:
            await client.close()
        topology.clients.clear()


def user(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def token(user_id: str) -> str:
    return mint_token(GatewaySettings(jwt_secret=SECRET, internal_token=INTERNAL_TOKEN), user_id)[0]


# ---- 1. long-polling POSTs -----------------------------------------------------------------


async def test_oversized_and_stray_polling_posts_are_answered_and_leave_nothing_behind(
    cluster: Cluster,
) -> None:
    """Found: a 70,000-byte POST (or a 1-byte NOOP) to a fresh session, no token needed, was
    never answered and its handler stayed for good; 1,000 of them: +1,000 tasks, +89 MB, and a
    SIGTERM that waited out its whole timeout."""
    gateway = cluster.gateway("gateway-polled")
    gateway.start()
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=5) as http:
            await polling_session(http)  # the first session starts the service task
            before = await tasks_of(gateway)
            async with watching(gateway) as watch:
                for round_ in range(150):
                    sid = await polling_session(http)
                    params = {"EIO": "4", "transport": "polling", "sid": sid}
                    if round_ % 3 == 0:
                        answer = await http.post("/socket.io/", params=params, content=b"4" + b"x" * 70_000)
                        assert answer.status_code == 413, answer.text
                    elif round_ % 3 == 1:
                        streamed = _chunks(b"4" + b"x" * 70_000)  # no Content-Length: chunked
                        answer = await http.post("/socket.io/", params=params, content=streamed)
                        assert answer.status_code == 413, answer.text
                    else:
                        answer = await http.post("/socket.io/", params=params, content=b"6")  # a NOOP
                        assert answer.status_code == 400, answer.text
                    # The session is closed at once: its next poll is refused, not left waiting.
                    assert (await http.get("/socket.io/", params=params)).status_code == 400
            after = await tasks_of(gateway)
            print(f"[polling posts] 150 sessions: rss +{watch.growth_mb:.1f} MB, tasks {before} -> {after}")
            assert after <= before + TASKS_LEFT
            assert watch.growth_mb < GROWTH_MB, watch
        started = time.monotonic()
        gateway.signal(signal.SIGTERM)
        assert gateway.wait(timeout_s=30) == 0
        # Nothing hung: no waiting out uvicorn's graceful timeout (DRAIN_TIMEOUT_S + 5 = 15 s).
        assert time.monotonic() - started < 10
    finally:
        gateway.stop()


async def _chunks(data: bytes) -> Any:
    for start in range(0, len(data), 8192):
        yield data[start : start + 8192]


async def test_a_body_that_is_not_utf8_closes_its_session(cluster: Cluster) -> None:
    gateway = cluster.gateways[0]
    async with httpx.AsyncClient(base_url=gateway.url, timeout=5) as http:
        sid = await polling_session(http)
        params = {"EIO": "4", "transport": "polling", "sid": sid}
        answer = await http.post("/socket.io/", params=params, content=b"4\xff\xfe")
        assert answer.status_code == 400
        assert (await http.get("/socket.io/", params=params)).status_code == 400


# ---- 2. a reader that falls behind ---------------------------------------------------------


async def test_a_reader_that_falls_behind_is_cut_off_and_the_gateway_stays_flat(cluster: Cluster) -> None:
    """Found: a member whose WebSocket never read, kept alive with unrequested pongs, asking
    for big sync pages, grew the gateway from 303 to 538 MB in 25 s and was never cut off."""
    gateway = cluster.gateways[0]
    writers = [user(f"writer{i}") for i in range(8)]
    mallory, bob = user("mallory"), user("bob")
    conversation = await cluster.conversation(mallory, bob, *writers)
    await _fill(cluster, conversation, writers, per_writer=10, chars=3900)  # 80 x 4 KB
    cut_before = await metric(gateway, "parley_gateway_slow_readers_cut_total")
    bob_socket = await cluster.joined(bob, gateway.url, conversation)

    deaf = await DeafWebSocket.connect(gateway.port, token(mallory))
    async with watching(gateway) as watch:
        try:
            for _round in range(60):
                for _ in range(5):
                    await deaf.emit("messages:sync", {"conversationId": conversation, "limit": 500})
                await deaf.pong()
                if await metric(gateway, "parley_gateway_slow_readers_cut_total") > cut_before:
                    break
                await asyncio.sleep(0.2)  # the pace of the attack
            else:
                raise AssertionError("never cut off")
        except ConnectionError:
            pass  # cut off while writing: what this test waits for
        finally:
            deaf.close()
    assert await metric(gateway, "parley_gateway_slow_readers_cut_total") > cut_before
    print(f"[slow reader] cut off; gateway rss {watch.before_mb:.0f} MB, peak +{watch.growth_mb:.1f} MB")
    assert watch.growth_mb < GROWTH_MB, watch
    # Bob, in the same conversation on the same gateway, chatted on.
    sent = await bob_socket.call("message:send", _send(conversation, "still here"))
    assert sent["ok"], sent


async def _fill(
    cluster: Cluster, conversation: str, writers: list[str], *, per_writer: int, chars: int
) -> None:
    async def write(writer: str) -> None:
        auth = {"Authorization": f"Bearer {token(writer)}"}
        async with httpx.AsyncClient(base_url=cluster.messages.url, headers=auth, timeout=10) as http:
            for _ in range(per_writer):
                body = {"clientMessageId": new_key(), "body": "x" * chars}
                answer = await http.post(f"/api/conversations/{conversation}/messages", json=body)
                assert answer.status_code == 201, answer.text

    await asyncio.gather(*(write(w) for w in writers))


def _send(conversation: str, body: str) -> dict[str, str]:
    return {"conversationId": conversation, "clientMessageId": new_key(), "body": body}


# ---- 3. the /api proxy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/%252e%252e/internal/v1/conversations/{c}/sync",
        "/api/%252E%252E/internal/v1/conversations/{c}/sync",
        "/api/.%252e/internal/v1/conversations/{c}/sync",
        "/api/%252e./internal/v1/conversations/{c}/sync",
        "/api/conversations/%252e%252e/%252e%252e/internal/v1/conversations/{c}/sync",
        "/api/%2e%2e/internal/v1/conversations/{c}/sync",
        "/api/../internal/v1/conversations/{c}/sync",
        "/api/%252e%252e/metrics",
        "/api/%252e%252e/openapi.json",
        "/api/%252e%252e/docs",
        "/api/conversations/{c}/%252e%252e/%252e%252e/%252e%252e/internal/v1/messages",
        "/api/internal/v1/conversations/{c}/sync",
        "/api/conversations/{c}/sync",
    ],
)
async def test_no_encoding_walks_the_proxy_out_of_the_public_api(cluster: Cluster, path: str) -> None:
    """Found: Starlette decoded ``%252e`` once, the ``..`` check passed, then the HTTP client
    decoded and resolved it: ``/api/%252e%252e/internal/…`` reached the internal API."""
    alice = user("alice")
    conversation = await cluster.conversation(alice)
    body = orjson.dumps({"userId": alice})
    headers = {"Authorization": f"Bearer {INTERNAL_TOKEN}", "Content-Type": "application/json"}
    for method in ("GET", "POST"):
        answer = await raw_request(
            cluster.gateways[0].port, method, path.format(c=conversation), body=body, headers=headers
        )
        assert answer.status == 404, (method, answer)
        assert b"messages" not in answer.body and b"openapi" not in answer.body


async def test_the_proxy_still_serves_the_public_api(cluster: Cluster) -> None:
    alice = user("alice")
    auth = {"Authorization": f"Bearer {token(alice)}"}
    async with httpx.AsyncClient(base_url=cluster.gateways[0].url, headers=auth, timeout=5) as http:
        created = await http.post("/api/conversations", json={"memberIds": [user("bob")]})
        assert created.status_code == 201, created.text
        conversation = created.json()["id"]
        sent = await http.post(
            f"/api/conversations/{conversation}/messages", json={"clientMessageId": new_key(), "body": "hi"}
        )
        assert sent.status_code == 201
        listed = await http.get(f"/api/conversations/{conversation}/messages", params={"afterSeq": 0})
        assert [m["body"] for m in listed.json()["messages"]] == ["hi"]
        # An id that looks like a climb stays an id: it is looked up, and not found.
        odd = await http.get("/api/conversations/%252e%252e/messages")
        assert odd.status_code == 404 and odd.json()["error"]["code"] == "not_found"


# ---- 4. every event is limited -------------------------------------------------------------

FLOODS = [
    ("messages:sync", "sync", lambda c: {"conversationId": c}),
    ("conversation:join", "room", lambda c: {"conversationId": c}),
    ("message:delivered", "receipt", lambda c: {"conversationId": c, "upToSeq": 0}),
    ("typing:start", "typing", lambda c: {"conversationId": c}),
]


@pytest.mark.parametrize(("event", "kind", "payload"), FLOODS, ids=[f[0] for f in FLOODS])
async def test_a_flood_of_any_event_is_limited_per_user_across_gateways(
    cluster: Cluster, event: str, kind: str, payload: Any
) -> None:
    """Found: 400 syncs in 3 s gave 563 MB of answers and slowed another user's join to 2 s;
    2,000 typing:start were all relayed. Here one user floods from both gateways at once:
    together they get at most the user's bucket, and the rest is ``rate_limited``."""
    mallory, bob = user("mallory"), user("bob")
    conversation = await cluster.conversation(mallory, bob)
    limit = next(v for k, v in LIMITS.items() if k.value == kind)
    flooders = [await cluster.socket(mallory, g.url) for g in cluster.gateways]
    count = limit.burst + 60
    started = time.monotonic()
    async with watching(cluster.gateways[0]) as watch:
        acks = await asyncio.gather(
            *(flooders[i % 2].call(event, payload(conversation), wait_s=30) for i in range(count))
        )
    elapsed = time.monotonic() - started
    admitted = [a for a in acks if a["ok"]]
    refused = [a["error"] for a in acks if not a["ok"]]
    assert {e["code"] for e in refused} == {"rate_limited"}, refused[:3]
    assert all(isinstance(e["retryAfterMs"], int) and e["retryAfterMs"] >= 1 for e in refused)
    print(f"[{event} flood] {count} from 2 gateways: {len(admitted)} admitted; rss +{watch.growth_mb:.1f} MB")
    assert watch.growth_mb < GROWTH_MB, watch
    # One bucket for both gateways: a limit kept per gateway would admit twice the burst.
    assert len(admitted) <= limit.burst + limit.rate * (elapsed + 1) + 1, (len(admitted), elapsed)
    # Meanwhile another user is served as usual.
    joined = await (await cluster.socket(bob, cluster.gateways[0].url)).call(
        "conversation:join", {"conversationId": conversation}
    )
    assert joined["ok"], joined


async def test_typing_relays_are_coalesced(cluster: Cluster) -> None:
    mallory, bob = user("mallory"), user("bob")
    conversation = await cluster.conversation(mallory, bob)
    watcher = await cluster.joined(bob, cluster.gateways[1].url, conversation)
    typist = await cluster.socket(mallory, cluster.gateways[0].url)
    started = time.monotonic()
    acks = [await typist.call("typing:start", {"conversationId": conversation}) for _ in range(40)]
    assert all(a["ok"] or a["error"]["code"] == "rate_limited" for a in acks)
    await typist.call("typing:stop", {"conversationId": conversation})
    assert await watcher.next("typing:stop")  # the stop comes after every relayed start
    elapsed = time.monotonic() - started
    relayed = len(watcher.pending("typing:start"))
    assert relayed >= 1
    # One relay per TYPING_RELAY_INTERVAL_MS (2 s) at most, and never one per keystroke.
    assert relayed <= 1 + elapsed / 2 + 1, (relayed, elapsed)


# ---- 5. connection caps --------------------------------------------------------------------


async def test_one_user_cannot_hold_more_than_their_connections(cluster: Cluster) -> None:
    """Found: 1,500 WebSockets for one user in 1.4 s."""
    mallory = user("mallory")
    allowed = GatewaySettings(jwt_secret=SECRET, internal_token=INTERNAL_TOKEN).max_connections_per_user
    refusals: list[Any] = []

    async def open_one() -> SocketClient | None:
        client = SocketClient(reconnection=False)
        client.sio.on("connect_error", refusals.append)
        try:
            await client.connect(cluster.gateways[0].url, token=token(mallory))
        except Exception:
            return None
        cluster.clients.append(client)
        return client

    opened = await asyncio.gather(*(open_one() for _ in range(allowed + 5)))
    assert sum(1 for c in opened if c is not None) == allowed
    assert len(refusals) == 5
    # connect_error: {"message": code, "data": {"code", "message"}} (PROTOCOL §2's shape)
    assert {(r["message"], r["data"]["code"]) for r in refusals} == {("too_many_connections",) * 2}
    assert all("MAX_CONNECTIONS_PER_USER" in r["data"]["message"] for r in refusals)
    # One closed, one more may come (once the gateway has seen it go); and no more.
    await next(c for c in opened if c is not None).close()

    async def one_more() -> bool:
        return await open_one() is not None

    await until(one_more)
    assert await open_one() is None
    # Another user is not affected meanwhile.
    assert await cluster.socket(user("bob"), cluster.gateways[0].url)


async def test_one_address_cannot_hold_more_than_its_transports(cluster: Cluster) -> None:
    gateway = cluster.gateways[1]
    sessions: list[str] = []
    async with httpx.AsyncClient(base_url=gateway.url, timeout=5) as http:
        refused = None
        for _ in range(PER_ADDRESS + 1):
            answer = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
            if answer.status_code != 200:
                refused = answer
                break
            sessions.append(orjson.loads(answer.text[1:])["sid"])
        assert refused is not None and refused.status_code == 429, refused
        assert refused.json()["code"] == "too_many_connections"
        assert "MAX_CONNECTIONS_PER_ADDRESS" in refused.json()["message"]
        assert int(refused.headers["retry-after"]) >= 1
        websocket = await raw_request(
            gateway.port,
            "GET",
            "/socket.io/?EIO=4&transport=websocket",
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
        assert websocket.status == 429
        for sid in sessions:  # an Engine.IO CLOSE packet ends each
            await http.post(
                "/socket.io/", params={"EIO": "4", "transport": "polling", "sid": sid}, content=b"1"
            )

        async def room_again() -> bool:
            answer = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
            return answer.status_code == 200

        await until(room_again)


# ---- 6. metrics and docs -------------------------------------------------------------------


async def test_metrics_and_docs_are_not_on_the_public_ports(cluster: Cluster) -> None:
    """Found: /metrics on the gateway's public port (the shipped Ingress sends / there), and
    /docs and /openapi.json of messages open."""
    async with httpx.AsyncClient(timeout=5) as http:
        for process in (*cluster.gateways, cluster.messages, *cluster.presence):
            assert (await http.get(f"{process.url}/metrics")).status_code == 404, process.name
            scraped = await http.get(process.metrics_url)
            assert scraped.status_code == 200 and "parley_asyncio_tasks" in scraped.text, process.name
        for path in ("/docs", "/openapi.json", "/redoc"):
            assert (await http.get(f"{cluster.messages.url}{path}")).status_code == 404, path


def test_every_client_event_draws_on_a_limit() -> None:
    """A new event must choose its limit (sends have theirs in the messages service; a
    ``typing:stop`` reaches nobody unless a start was relayed)."""
    assert set(LIMITED_EVENTS) == set(SOCKET_EVENTS) - {"message:send", "typing:stop"}
