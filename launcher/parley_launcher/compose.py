"""Compose the three service apps into one ASGI app for the embedded default.

The services stay unaware of each other: they share only what the launcher hands them
(an in-process bus, event limiter and presence store instead of Redis), and the gateway reaches the
messages service through its internal HTTP API over an in-process transport, the same
code path as in production. Public paths are routed here the way the Kubernetes
ingress routes them: ``/api`` (and the OpenAPI docs) to messages, the rest to the gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from parley_common.asgi import running
from parley_common.bus import InProcessBus
from parley_common.event_limits import EventLimiter
from parley_common.presence import InProcessReports
from parley_gateway.app import create_app as create_gateway
from parley_gateway.config import GatewaySettings
from parley_messages.app import create_app as create_messages
from parley_messages.config import MessagesSettings
from parley_presence.app import create_app as create_presence
from parley_presence.config import PresenceSettings
from parley_presence.reports import InProcessReportSource
from parley_presence.store import MemoryPresenceStore

_MESSAGES_PREFIXES = ("/api/", "/docs", "/openapi.json")


@dataclass(frozen=True)
class EmbeddedSettings:
    messages: MessagesSettings
    gateway: GatewaySettings
    presence: PresenceSettings


class EmbeddedApp:
    """One ASGI app: routes by path, and runs every service's lifespan in its own."""

    def __init__(self, settings: EmbeddedSettings) -> None:
        bus = InProcessBus()
        reports = InProcessReports()
        presence_store = MemoryPresenceStore(bus, settings.gateway.router())
        # One set of buckets: a user's socket events and HTTP requests draw on the same limits.
        events = EventLimiter.in_memory(settings.gateway.event_limits())
        self.messages = create_messages(
            settings.messages,
            bus=bus,
            online=presence_store,
            event_limiter=events,
        )
        self.gateway = create_gateway(
            settings.gateway,
            bus=bus,
            messages_app=self._messages_running,
            presence_sink=reports,
            event_limiter=events,
        )
        self.presence = create_presence(
            settings.presence, store=presence_store, source=InProcessReportSource(reports)
        )
        self._running: dict[int, ASGIApp] = {}

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for app in (self.messages, self.presence, self.gateway):
                self._running[id(app)] = await stack.enter_async_context(running(app))
            yield

    async def _messages_running(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._running[id(self.messages)](scope, receive, send)

    def _route(self, path: str) -> FastAPI:
        if path.startswith(_MESSAGES_PREFIXES) or path in ("/healthz", "/readyz"):
            return self.messages
        return self.gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _serve_lifespan(self, receive, send)
            return
        app = self._running[id(self._route(scope.get("path", "")))]
        await app(scope, receive, send)


async def _serve_lifespan(embedded: EmbeddedApp, receive: Receive, send: Send) -> None:
    message = await receive()
    assert message["type"] == "lifespan.startup"
    stack = AsyncExitStack()
    try:
        await stack.enter_async_context(embedded.lifespan())
    except BaseException as exc:
        await send({"type": "lifespan.startup.failed", "message": str(exc)})
        raise
    await send({"type": "lifespan.startup.complete"})
    message = await receive()
    await stack.aclose()
    await send({"type": "lifespan.shutdown.complete"})
