"""The gateway end to end: the embedded default served by a real uvicorn on a real port,
on the session's PostgreSQL database, driven by the stock python-socketio client.

Tests marked ``@both_topologies`` run twice: on the embedded default, and on the production
topology (the session's ``production_cluster``: separate processes, real Redis, two
gateways). A test says which gateway each client uses (``gateway=1``), so that in production
its events cross from one gateway to the other; in the embedded default there is one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from parley_common.auth import mint_token
from parley_gateway.config import GatewaySettings
from parley_launcher.compose import EmbeddedApp, EmbeddedSettings
from parley_messages.config import MessagesSettings
from parley_presence.config import PresenceSettings
from tests.cluster.conftest import Cluster
from tests.support.ports import free_port
from tests.support.servers import uvicorn_serving
from tests.support.sockets import SocketClient

SECRET = "a-test-secret-of-decent-length"
INTERNAL_TOKEN = "internal-token-for-tests"


def common_settings(**overrides: Any) -> dict[str, Any]:
    return {
        "dev_mode": False,
        "jwt_secret": SECRET,
        "internal_token": INTERNAL_TOKEN,
        "redis_url": None,
    } | overrides


def gateway_settings(**overrides: Any) -> GatewaySettings:
    return GatewaySettings(**common_settings(**overrides))


@dataclass
class Stack:
    """A running Parley and helpers to talk to it as users."""

    url: str
    settings: EmbeddedSettings
    http: httpx.AsyncClient
    app: EmbeddedApp | None  # None: the production topology (separate processes)
    gateways: list[str] = field(default_factory=list)  # every gateway's URL (none given: ``url``)
    clients: list[SocketClient] = field(default_factory=list)

    def token(self, user_id: str, *, ttl_s: int = 3600) -> str:
        token, _ = mint_token(self.settings.gateway, user_id, ttl_s=ttl_s)
        return token

    def auth(self, user_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id)}"}

    def gateway_url(self, gateway: int) -> str:
        """The URL of gateway number ``gateway`` (the only one, in the embedded default)."""
        urls = self.gateways or [self.url]
        return urls[gateway % len(urls)]

    async def socket(self, user_id: str | None = None, *, gateway: int = 0, **connect: Any) -> SocketClient:
        client = SocketClient()
        self.clients.append(client)
        if user_id is not None:
            connect.setdefault("token", self.token(user_id))
        return await client.connect(self.gateway_url(gateway), **connect)

    async def conversation(self, owner: str, *others: str) -> str:
        answer = await self.http.post(
            "/api/conversations", json={"memberIds": list(others)}, headers=self.auth(owner)
        )
        assert answer.status_code == 201, answer.text
        conversation_id: str = answer.json()["id"]
        return conversation_id

    async def pair(self, user: Callable[[str], str]) -> tuple[str, str, str]:
        """Alice and Bob (random ids) and a conversation of theirs."""
        alice, bob = user("alice"), user("bob")
        return alice, bob, await self.conversation(alice, bob)

    async def post_message(
        self, user_id: str, conversation_id: str, body: str = "over http"
    ) -> dict[str, Any]:
        answer = await self.http.post(
            f"/api/conversations/{conversation_id}/messages",
            json={"clientMessageId": str(uuid.uuid4()), "body": body},
            headers=self.auth(user_id),
        )
        assert answer.status_code == 201, answer.text
        message: dict[str, Any] = answer.json()["message"]
        return message

    async def joined(
        self, user_id: str, conversation_id: str, *, gateway: int = 0, **connect: Any
    ) -> SocketClient:
        client = await self.socket(user_id, gateway=gateway, **connect)
        ack = await client.call("conversation:join", {"conversationId": conversation_id})
        assert ack["ok"], ack
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()


def embedded_settings(
    database_url: str, presence: dict[str, Any] | None = None, **gateway: Any
) -> EmbeddedSettings:
    return EmbeddedSettings(
        messages=MessagesSettings(**common_settings(database_url=database_url)),
        gateway=gateway_settings(**gateway),
        presence=PresenceSettings(**common_settings(**(presence or {}))),
    )


@asynccontextmanager
async def serving(
    database_url: str, presence: dict[str, Any] | None = None, **gateway: Any
) -> AsyncIterator[Stack]:
    """The embedded default on a free port, with gateway (and presence) settings overridden."""
    settings = embedded_settings(database_url, presence, **gateway)
    async with serving_settings(settings, ws_max_size=settings.gateway.max_packet_bytes) as running:
        yield running


@asynccontextmanager
async def serving_settings(
    settings: EmbeddedSettings, *, app: EmbeddedApp | None = None, **server_options: Any
) -> AsyncIterator[Stack]:
    """The embedded default built from ``settings`` (or ``app``, built from them), served on a
    free port (uvicorn options)."""
    port = free_port()
    app = app or EmbeddedApp(settings)
    async with uvicorn_serving(app, port, **server_options):
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url) as http:
            running = Stack(url=url, settings=settings, http=http, app=app, gateways=[url])
            try:
                yield running
            finally:
                await running.close()


@asynccontextmanager
async def production_stack(cluster: Cluster, database_url: str) -> AsyncIterator[Stack]:
    """The session's production topology, as a :class:`Stack` (``http``: the first gateway,
    which forwards /api to messages)."""
    urls = [gateway.url for gateway in cluster.gateways]
    async with httpx.AsyncClient(base_url=urls[0]) as http:
        settings = embedded_settings(database_url)  # the cluster's secrets: tokens for it
        running = Stack(url=urls[0], settings=settings, http=http, app=None, gateways=urls)
        try:
            yield running
        finally:
            await running.close()


TOPOLOGIES = ["embedded", pytest.param("production", marks=pytest.mark.production)]
# Run a test that takes ``stack`` (or ``quick``…) on both topologies.
both_topologies = pytest.mark.parametrize("stack", TOPOLOGIES, indirect=True)


@asynccontextmanager
async def topology(
    request: pytest.FixtureRequest, postgres_url: str, presence: dict[str, Any] | None = None
) -> AsyncIterator[Stack]:
    """The production topology when the test is parametrised so, else the embedded default
    (with ``presence`` settings)."""
    if getattr(request, "param", "embedded") == "production":
        cluster: Cluster = request.getfixturevalue("production_cluster")
        async with production_stack(cluster, postgres_url) as running:
            yield running
        return
    async with serving(postgres_url, presence) as running:
        yield running


@pytest.fixture
async def stack(request: pytest.FixtureRequest, postgres_url: str) -> AsyncIterator[Stack]:
    async with topology(request, postgres_url) as running:
        yield running


@pytest.fixture
def user() -> Callable[[str], str]:
    """Random user ids, so tests never see each other's data."""
    suffix = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{suffix}"


def message_payload(conversation_id: str, body: str = "hello", key: str | None = None) -> dict[str, str]:
    return {"conversationId": conversation_id, "clientMessageId": key or str(uuid.uuid4()), "body": body}
