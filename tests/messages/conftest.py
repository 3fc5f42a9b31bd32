"""Fixtures of the messages service: the app on SQLite (embedded) and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from parley_common.asgi import running
from parley_common.auth import mint_token
from parley_common.bus import InProcessBus
from parley_common.events import ROOM_EVENTS, unpack_room_events
from parley_messages.app import create_app
from parley_messages.config import MessagesSettings
from parley_messages.migrate import upgrade
from parley_messages.service import MessagesService

SECRET = "a-test-secret-of-decent-length"
INTERNAL_TOKEN = "internal-token-for-tests"


def make_settings(database_url: str, **overrides: Any) -> MessagesSettings:
    values: dict[str, Any] = {
        "dev_mode": False,
        "jwt_secret": SECRET,
        "internal_token": INTERNAL_TOKEN,
        "database_url": database_url,
        "redis_url": None,
        "db_pool_size": 20,
        "db_max_overflow": 40,
    }
    values.update(overrides)
    return MessagesSettings(**values)


@dataclass
class Api:
    """An HTTP client of one running messages app, with token helpers."""

    client: httpx.AsyncClient
    settings: MessagesSettings
    bus: InProcessBus
    app: FastAPI

    @property
    def service(self) -> MessagesService:
        service: MessagesService = self.app.state.service
        return service

    def auth(self, user_id: str) -> dict[str, str]:
        token, _ = mint_token(self.settings, user_id)
        return {"Authorization": f"Bearer {token}"}

    def internal(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {INTERNAL_TOKEN}"}

    async def conversation(self, owner: str, *others: str, title: str | None = None) -> str:
        response = await self.client.post(
            "/api/conversations", json={"memberIds": list(others), "title": title}, headers=self.auth(owner)
        )
        assert response.status_code == 201, response.text
        conversation_id: str = response.json()["id"]
        return conversation_id

    async def send_batch(self, sends: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """POST /internal/v1/messages/batch (what the gateway calls): the per-send answers."""
        answer = await self.client.post(
            "/internal/v1/messages/batch", json={"sends": sends}, headers=self.internal()
        )
        assert answer.status_code == 200, answer.text
        results: list[dict[str, Any]] = answer.json()["results"]
        return results

    async def send(
        self, user: str, conversation_id: str, body: str = "hello", key: str | None = None
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/conversations/{conversation_id}/messages",
            json={"clientMessageId": key or str(uuid.uuid4()), "body": body},
            headers=self.auth(user),
        )


@asynccontextmanager
async def serve(settings: MessagesSettings) -> AsyncIterator[Api]:
    bus = InProcessBus()
    app = create_app(settings, bus=bus)
    async with running(app) as asgi:
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield Api(client=client, settings=settings, bus=bus, app=app)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'parley.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Both backends: the embedded default's SQLite and the real PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    async with serve(make_settings(database_url)) as running_api:
        yield running_api


@pytest.fixture
def user() -> Callable[[str], str]:
    """Random user ids, so tests never see each other's data."""
    suffix = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{suffix}"


class RoomEvents:
    """What the service publishes for the gateway, read in order."""

    _MARK = "__test-mark__"

    def __init__(self, api: Api, events: AsyncIterator[tuple[str, dict[str, Any]]]) -> None:
        self._api = api
        self._events = events
        self._unread: list[dict[str, Any]] = []

    async def next(self) -> dict[str, Any]:
        """The next event (a payload that batches several is read one event at a time)."""
        while not self._unread:
            _, payload = await asyncio.wait_for(anext(self._events), timeout=5)
            self._unread.extend(unpack_room_events(payload))
        return self._unread.pop(0)

    async def rest(self) -> list[dict[str, Any]]:
        """Everything published for what was answered so far: the service's queue emptied,
        a marker sent now comes back after all of it."""
        await self._api.service.events_published()
        await self._api.bus.publish(ROOM_EVENTS, {"event": self._MARK})
        seen = []
        while (payload := await self.next())["event"] != self._MARK:
            seen.append(payload)
        return seen


@asynccontextmanager
async def room_events(api: Api) -> AsyncIterator[RoomEvents]:
    """Room events of what is answered from now on (those of earlier answers went out first)."""
    await api.service.events_published()
    async with api.bus.tap() as events:  # every channel: each conversation has its own
        yield RoomEvents(api, events)
