"""The production topology as real processes: the messages service and two gateways on
the real PostgreSQL and Redis, each in its own OS process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from parley_client import ParleyClient

from parley_common.auth import mint_token
from parley_gateway.config import GatewaySettings
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess, start_all, stop_all
from tests.support.sockets import SocketClient

SECRET = "a-test-secret-of-decent-length"
INTERNAL_TOKEN = "internal-token-for-tests"
GRACE_MS = 500
GATEWAY_TTL_S = 2


@dataclass
class Cluster:
    messages: ServiceProcess
    presence: list[ServiceProcess]
    gateways: list[ServiceProcess]
    env: dict[str, str]
    log_dir: Path
    clients: list[SocketClient] = field(default_factory=list)
    extra: list[ServiceProcess] = field(default_factory=list)  # started by a test, stopped at the end

    async def close_clients(self) -> None:
        """Close the sockets a test opened, so the next test of a shared cluster starts clean."""
        for client in self.clients:
            await client.close()
        self.clients.clear()

    def token(self, user_id: str) -> str:
        settings = GatewaySettings(jwt_secret=SECRET, internal_token=INTERNAL_TOKEN)
        token, _ = mint_token(settings, user_id)
        return token

    async def conversation(self, owner: str, *others: str) -> str:
        async with httpx.AsyncClient(base_url=self.messages.url) as http:
            answer = await http.post(
                "/api/conversations",
                json={"memberIds": list(others)},
                headers={"Authorization": f"Bearer {self.token(owner)}"},
            )
        assert answer.status_code == 201, answer.text
        conversation_id: str = answer.json()["id"]
        return conversation_id

    async def socket(self, user_id: str, url: str, **options: Any) -> SocketClient:
        client = SocketClient(**options)
        self.clients.append(client)
        return await client.connect(url, token=self.token(user_id))

    async def joined(self, user_id: str, url: str, conversation_id: str) -> SocketClient:
        client = await self.socket(user_id, url)
        assert (await client.call("conversation:join", {"conversationId": conversation_id}))["ok"]
        return client

    @asynccontextmanager
    async def sdk(self, user_id: str, url: str) -> AsyncIterator[ParleyClient]:
        """A Python SDK client of ``user_id`` (started, closed at the end)."""

        async def token() -> str:
            return self.token(user_id)

        client = ParleyClient(url, token_provider=token)
        await client.start()
        try:
            yield client
        finally:
            await client.close()

    def gateway(self, name: str, *, messages: ServiceProcess | None = None) -> ServiceProcess:
        """A gateway (not started) of ``messages`` (default: the cluster's messages service)."""
        port = free_port()
        env = self.env | {"MESSAGES_URL": (messages or self.messages).url}
        return ServiceProcess("parley_gateway", port=port, env=env, log_dir=self.log_dir, name=name)

    def messages_replica(self, name: str) -> ServiceProcess:
        """One more messages process (not started) on the same database and Redis."""
        return ServiceProcess(
            "parley_messages", port=free_port(), env=self.env, log_dir=self.log_dir, name=name
        )

    def presence_replica(self, name: str) -> ServiceProcess:
        return ServiceProcess(
            "parley_presence", port=free_port(), env=self.env, log_dir=self.log_dir, name=name
        )


def cluster_environment(*, postgres_url: str, redis_url: str, redis_prefix: str) -> dict[str, str]:
    return {
        "DEV_MODE": "false",
        "JWT_SECRET": SECRET,
        "INTERNAL_TOKEN": INTERNAL_TOKEN,
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": redis_prefix,
        # Quick presence timings, so that the tests wait seconds, not half a minute.
        "PRESENCE_GRACE_MS": str(GRACE_MS),
        "PRESENCE_GATEWAY_TTL_S": str(GATEWAY_TTL_S),
    }


@contextmanager
def running_cluster(env: dict[str, str], log_dir: Path, *, api_proxy: bool = False) -> Iterator[Cluster]:
    """Messages, one presence replica and two gateways, started side by side (``api_proxy``:
    the gateways forward /api to messages, as in ``make cluster``)."""
    messages = ServiceProcess("parley_messages", port=free_port(), env=env, log_dir=log_dir, name="messages")
    gateway_env = env | {"API_PROXY_URL": messages.url} if api_proxy else env
    running = Cluster(messages=messages, presence=[], gateways=[], env=gateway_env, log_dir=log_dir)
    running.presence = [running.presence_replica("presence")]
    running.gateways = [running.gateway("gateway-a"), running.gateway("gateway-b")]
    try:
        start_all([messages, *running.presence, *running.gateways])
        yield running
    finally:
        # Gateways first: their clean disconnects still reach presence.
        stop_all(running.gateways)
        stop_all([*running.presence, *running.extra, messages])


@pytest.fixture
def cluster_env(postgres_url: str, redis_url: str, redis_prefix: str) -> dict[str, str]:
    return cluster_environment(postgres_url=postgres_url, redis_url=redis_url, redis_prefix=redis_prefix)


@pytest.fixture
def processes(cluster_env: dict[str, str], tmp_path: Path) -> Iterator[Cluster]:
    with running_cluster(cluster_env, tmp_path) as running:
        yield running


@pytest.fixture
async def cluster(processes: Cluster) -> AsyncIterator[Cluster]:
    try:
        yield processes
    finally:
        await processes.close_clients()


def new_key() -> str:
    return str(uuid.uuid4())
