"""Floods (PROTOCOL §3, §4.2; REQUIREMENTS 3.4.4): the send rate limit is one per user across
every gateway, messages replica and the HTTP route; a client that opens connections in a loop,
never authenticates, or sends packets no client library writes harms only itself.

Already proven elsewhere: an oversized packet closes only its connection, over WebSocket
and polling (tests/gateway/test_transports.py::test_an_oversized_packet_closes_only_that_connection,
::test_an_oversized_polling_post_closes_only_that_connection); an HTTP body over 64 KiB is 413
(tests/messages/test_conversations_api.py::test_bodies_over_64_kib_are_413); the sliding
window itself, frozen clock, memory and Redis (tests/messages/test_rate_limit.py).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import orjson
import pytest
import websockets

from parley_common.auth import mint_token
from parley_gateway.app import create_app as create_gateway
from parley_messages.app import create_app as create_messages
from parley_messages.config import MessagesSettings
from tests.gateway.conftest import Stack, common_settings, gateway_settings, message_payload
from tests.security.conftest import secured
from tests.support.ports import free_port
from tests.support.servers import uvicorn_serving
from tests.support.sockets import SocketClient

User = Callable[[str], str]
RATE = 10  # sends per sliding second per user (PROTOCOL §4.2)


# ---- the rate limit across processes -------------------------------------------------------


class Topology:
    """Two messages replicas and two gateways, each gateway on its own replica, one Redis.

    Separate apps on their own ports, sharing nothing but Redis and PostgreSQL, as separate
    processes would (tests/cluster starts real processes; four cost 30 s or more to start here).
    """

    def __init__(self, postgres_url: str, redis_url: str, redis_prefix: str) -> None:
        shared = {"redis_url": redis_url, "redis_prefix": redis_prefix}
        self.messages_ports = [free_port(), free_port()]
        self.gateway_ports = [free_port(), free_port()]
        self.messages = [
            create_messages(MessagesSettings(**common_settings(database_url=postgres_url, **shared)))
            for _ in self.messages_ports
        ]
        self.gateways = [
            create_gateway(gateway_settings(**shared, messages_url=f"http://127.0.0.1:{port}"))
            for port in self.messages_ports
        ]
        self.clients: list[SocketClient] = []

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def token(self, user_id: str) -> str:
        token, _ = mint_token(gateway_settings(), user_id)
        return token

    async def socket(self, user_id: str, port: int) -> SocketClient:
        client = SocketClient(reconnection=False)
        self.clients.append(client)
        return await client.connect(self.url(port), token=self.token(user_id))


@pytest.fixture
async def topology(postgres_url: str, redis_url: str, redis_prefix: str) -> AsyncIterator[Topology]:
    running = Topology(postgres_url, redis_url, redis_prefix)
    apps = [
        *zip(running.messages, running.messages_ports, strict=True),
        *zip(running.gateways, running.gateway_ports, strict=True),
    ]
    async with AsyncExitStack() as stack:
        for app, port in apps:
            await stack.enter_async_context(uvicorn_serving(app, port))
        try:
            yield running
        finally:
            for client in running.clients:
                await client.close()


async def test_the_rate_limit_is_per_user_across_gateways_replicas_and_http(topology: Topology) -> None:
    """Alice floods from a device on each gateway and over HTTP to each replica, all at once;
    bob sends within his limit meanwhile. Within any stretch of T seconds a sliding one-second
    window admits at most RATE x (floor(T) + 1): alice gets no more, bob is never limited."""
    suffix = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{suffix}", f"bob-{suffix}"
    first = topology.url(topology.messages_ports[0])
    async with httpx.AsyncClient(timeout=10) as http:
        created = await http.post(
            f"{first}/api/conversations",
            json={"memberIds": [bob]},
            headers={"Authorization": f"Bearer {topology.token(alice)}"},
        )
        conversation = created.json()["id"]
        devices = [await topology.socket(alice, port) for port in topology.gateway_ports]
        bystander = await topology.socket(bob, topology.gateway_ports[1])

        async def over_http(replica: int) -> dict[str, Any]:
            answer = await http.post(
                f"{topology.url(replica)}/api/conversations/{conversation}/messages",
                json={"clientMessageId": str(uuid.uuid4()), "body": "flood"},
                headers={"Authorization": f"Bearer {topology.token(alice)}"},
            )
            body: dict[str, Any] = answer.json()
            return {"ok": True, **body} if answer.status_code == 201 else {"ok": False, **body}

        flood = [
            device.call("message:send", message_payload(conversation, "flood")) for device in devices * 10
        ]
        flood += [over_http(replica) for replica in topology.messages_ports * 10]
        calm = [
            bystander.call("message:send", message_payload(conversation, "calm")) for _ in range(RATE // 2)
        ]
        started = time.monotonic()
        answers = await asyncio.gather(*flood, *calm)
        elapsed = time.monotonic() - started

    alices, bobs = answers[: len(flood)], answers[len(flood) :]
    stored = [a for a in alices if a["ok"]]
    refused = [a["error"] for a in alices if not a["ok"]]
    assert 0 < len(stored) <= RATE * (math.floor(elapsed) + 1), (len(stored), elapsed)
    assert refused and {e["code"] for e in refused} == {"rate_limited"}
    assert all(e["retryAfterMs"] > 0 for e in refused)
    assert all(a["ok"] for a in bobs), bobs
    synced = await devices[0].call("messages:sync", {"conversationId": conversation})
    senders = [m["senderId"] for m in synced["messages"]]
    assert (senders.count(alice), senders.count(bob)) == (len(stored), len(bobs))


# ---- connections that harm only themselves ------------------------------------------------

CONNECT_TIMEOUT_S = 0.5


@pytest.fixture
async def stack(postgres_url: str) -> AsyncIterator[Stack]:
    async with secured(postgres_url, gateway={"connect_timeout_s": CONNECT_TIMEOUT_S}) as running:
        yield running


def ws_url(stack: Stack) -> str:
    return stack.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


async def closed_by_server(ws: websockets.ClientConnection, *, within_s: float) -> list[str]:
    """Read, answering pings, until the server ends the Engine.IO session (its CLOSE packet,
    "1") or the connection; what it sent."""
    frames = []
    async with asyncio.timeout(within_s):
        try:
            async for frame in ws:
                frames.append(str(frame))
                if frame == "1":
                    break
                if frame == "2":
                    await ws.send("3")
        except websockets.ConnectionClosed:
            pass
    return frames


async def test_transports_that_never_authenticate_are_closed(stack: Stack, user: User) -> None:
    """Engine.IO sessions without a Socket.IO CONNECT, with a refused one, or that left the
    namespace, are ended by the server after CONNECT_TIMEOUT_S, however well they answer pings."""
    alice = user("alice")
    silent = [await websockets.connect(ws_url(stack)) for _ in range(20)]
    refused = [await websockets.connect(ws_url(stack)) for _ in range(20)]
    departed = await websockets.connect(ws_url(stack))
    for ws in refused:
        await ws.recv()
        await ws.send('40{"token": "forged"}')
    await departed.recv()
    await departed.send("40" + orjson.dumps({"token": stack.token(alice)}).decode())
    await departed.send("41")  # leaves the namespace, keeps the transport

    outcomes = await asyncio.gather(
        *(closed_by_server(ws, within_s=5) for ws in [*silent, *refused, departed])
    )

    assert all(frames[-1:] == ["1"] for frames in outcomes), outcomes  # each session ended by the server
    # ... and its connection closed by the server too, though the client never closed it.
    async with asyncio.timeout(5):
        await asyncio.gather(*(ws.wait_closed() for ws in [*silent, *refused, departed]))
    assert all(any(f.startswith("44") for f in frames) for frames in outcomes[20:40])  # auth_invalid first
    client = await stack.socket(alice)  # a real client connects at once, as ever
    assert client.sio.connected


async def test_a_connection_loop_leaves_others_unharmed(stack: Stack, user: User) -> None:
    """Mallory opens sockets in a loop, half with forged tokens; alice and bob talk meanwhile."""
    alice, bob, mallory = user("alice"), user("bob"), user("mallory")
    conversation = await stack.conversation(alice, bob)
    sender = await stack.joined(alice, conversation)
    receiver = await stack.joined(bob, conversation)

    async def churn(n: int) -> None:
        client = SocketClient(reconnection=False)
        token = stack.token(mallory) if n % 2 else "forged"
        try:
            await client.connect(stack.url, token=token)
        except Exception:
            pass
        finally:
            await client.close()

    flood = asyncio.gather(*(churn(n) for n in range(100)))
    for n in range(5):
        ack = await sender.call("message:send", message_payload(conversation, f"during {n}"))
        assert ack["ok"], ack
        assert (await receiver.next("message:new"))["message"]["id"] == ack["message"]["id"]
    await flood

    assert sender.sio.connected and receiver.sio.connected


async def test_a_binary_packet_closes_its_connection_before_buffering(stack: Stack, user: User) -> None:
    """A BINARY_EVENT header may announce 10⁹ attachments; python-socketio would keep every
    following frame in memory. Parley's events are JSON: the header alone closes the link."""
    alice = user("alice")
    conversation = await stack.conversation(alice)
    async with websockets.connect(ws_url(stack)) as ws:
        await ws.recv()
        await ws.send("40" + orjson.dumps({"token": stack.token(alice)}).decode())
        assert str(await ws.recv()).startswith("40")
        await ws.send('45999999999-["message:send",{"_placeholder":true,"num":0}]')

        frames = await closed_by_server(ws, within_s=5)

    assert frames[-1:] == ["1"]  # Engine.IO CLOSE
    bystander = await stack.socket(alice)
    assert (await bystander.call("message:send", message_payload(conversation, "fine")))["ok"]
