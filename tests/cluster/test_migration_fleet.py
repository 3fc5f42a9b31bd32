"""PROTOCOL §7 on the production topology: a mixed fleet while the operator flips messages
between Socket.IO and HTTP polling.

Two gateways, messages and presence as separate processes on the real PostgreSQL and Redis.
The operator's flip is a rollout of messages with a new ``CLIENT_MESSAGES``: the traffic
moves to messages processes started with it (the balancer in front of messages stands for the
Service; here both configurations run from the start, blue/green, so that a flip costs no
process start). Connections to the old ones are cut at the switch, a harsher end than a drain:
what was in flight on them is retried by the gateways' clients and the SDKs. The clients read
the config every half second here (``config_refresh_s``; 5 minutes by default).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from parley_client import MessageStatus, ParleyClient
from parley_client.modes import HTTP_ONLY, Modes

from parley_common.auth import mint_token
from parley_gateway.config import GatewaySettings
from tests.client.conftest import all_hold, all_read
from tests.cluster.conftest import INTERNAL_TOKEN, SECRET, cluster_environment
from tests.support.balancer import Balancer, failover_balancer
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess, start_all, stop_all

pytestmark = pytest.mark.timeout(120)

PER_PHASE = 20  # messages per client between two flips: 3 clients x 20 x 5 phases = 300
PHASES = ("socket", "http", "socket", "http", "socket")  # the operator's CLIENT_MESSAGES
MIXED = Modes(messages="socket", typing="socket", presence="http")


@dataclass
class Fleet:
    messages: dict[str, ServiceProcess]  # by CLIENT_MESSAGES
    backends: list[int]  # what the balancer in front of messages routes to
    balancer: Balancer

    def roll_messages(self, client_messages: str) -> None:
        """The operator's flip: messages with this CLIENT_MESSAGES take all the traffic."""
        self.backends[:] = [self.messages[client_messages].port]
        self.balancer.cut()


def token(user_id: str) -> str:
    return mint_token(GatewaySettings(jwt_secret=SECRET, internal_token=INTERNAL_TOKEN), user_id)[0]


@asynccontextmanager
async def fleet_running(env: dict[str, str], log_dir: Path) -> AsyncIterator[tuple[Fleet, list[str]]]:
    balancer_port = free_port()
    messages_url = f"http://127.0.0.1:{balancer_port}"
    messages = {
        mode: ServiceProcess(
            "parley_messages",
            port=free_port(),
            env=env | {"CLIENT_MESSAGES": mode},
            log_dir=log_dir,
            name=f"messages-{mode}",
        )
        for mode in ("socket", "http")
    }
    backends = [messages["socket"].port]
    gateway_env = env | {"MESSAGES_URL": messages_url, "API_PROXY_URL": messages_url}
    presence = ServiceProcess("parley_presence", port=free_port(), env=env, log_dir=log_dir, name="presence")
    gateways = [
        ServiceProcess("parley_gateway", port=free_port(), env=gateway_env, log_dir=log_dir, name=name)
        for name in ("gateway-a", "gateway-b")
    ]
    async with failover_balancer(balancer_port, backends) as balancer:
        try:
            await asyncio.to_thread(start_all, [*messages.values(), presence, *gateways])
            yield Fleet(messages, backends, balancer), [g.url for g in gateways]
        finally:
            await asyncio.to_thread(stop_all, gateways)
            await asyncio.to_thread(stop_all, [presence, *messages.values()])


@asynccontextmanager
async def member(url: str, user_id: str, modes: Modes) -> AsyncIterator[tuple[ParleyClient, list[str]]]:
    """A client of ``user_id`` and the messages modes it went through."""

    async def provider() -> str:
        return token(user_id)

    client = ParleyClient(url, token_provider=provider, modes=modes, config_refresh_s=0.5)
    seen: list[str] = []
    client.on_modes_change(lambda now: seen.append(now.messages))
    await client.start()
    seen.append(client.modes.messages)
    try:
        yield client, seen
    finally:
        await client.close()


async def until_modes(clients: list[ParleyClient], messages: str) -> None:
    changed = asyncio.Event()
    for client in clients:
        client.on_modes_change(lambda _: changed.set())
    async with asyncio.timeout(15):
        while any(c.modes.messages != messages for c in clients):
            changed.clear()
            await changed.wait()


def runs(modes: list[str]) -> list[str]:
    return [m for n, m in enumerate(modes) if n == 0 or modes[n - 1] != m]


async def test_a_mixed_fleet_keeps_every_message_while_messages_flip_between_socket_and_http(
    postgres_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = cluster_environment(postgres_url=postgres_url, redis_url=redis_url, redis_prefix=redis_prefix) | {
        "CLIENT_HTTP_POLL_INTERVAL_MS": "200",
        # The pollers read twice per conversation per interval, plus their syncs: room above it.
        "RATE_LIMIT_SYNC": "200,400",
        "RATE_LIMIT_RECEIPTS": "200,400",
    }
    suffix = uuid.uuid4().hex[:6]
    polling, socket, mixed = f"polling-{suffix}", f"socket-{suffix}", f"mixed-{suffix}"
    async with fleet_running(env, tmp_path) as (fleet, gateways):
        async with httpx.AsyncClient(base_url=gateways[0]) as http:
            created = await http.post(
                "/api/conversations",
                json={"memberIds": [socket, mixed]},
                headers={"Authorization": f"Bearer {token(polling)}"},
            )
        conversation_id = created.json()["id"]
        async with (
            member(gateways[0], polling, HTTP_ONLY) as (polling_client, polling_seen),
            member(gateways[1], socket, Modes()) as (socket_client, socket_seen),
            member(gateways[0], mixed, MIXED) as (mixed_client, mixed_seen),
        ):
            clients = [polling_client, socket_client, mixed_client]
            chats = [await c.open(conversation_id) for c in clients]
            for phase, mode in enumerate(PHASES):
                for n in range(PER_PHASE):
                    for chat in chats:
                        await chat.send(f"{chat.user_id} phase {phase} #{n}")
                    if n == PER_PHASE // 2:  # the rest still queued or in flight
                        fleet.roll_messages(mode)
                await until_modes([socket_client, mixed_client], mode)
            await all_hold(chats, len(PHASES) * PER_PHASE * 3, wait_s=60)
            failed = [m for chat in chats for m in chat.messages() if m.status == MessageStatus.FAILED]
            assert failed == []
            assert all(c.queued == 0 for c in clients)
            await all_read(chats, wait_s=30)  # blue ticks, whichever way receipts went

    assert runs(polling_seen) == ["http"]
    assert runs(socket_seen) == list(PHASES)
    assert runs(mixed_seen) == list(PHASES)
    for chat in chats:  # each sender's messages in the order it sent them
        mine = [m.text for m in chat.messages() if m.sender_id == chat.user_id]
        expected = [f"{chat.user_id} phase {p} #{n}" for p in range(len(PHASES)) for n in range(PER_PHASE)]
        assert mine == expected
