"""Composition root of the gateway: ``create_app(settings)``.

The lifespan builds everything once: the messages client, Redis, the bus subscription,
the Socket.IO server and its manager, and closes them in reverse order. Requests under
``/socket.io/`` go to the Socket.IO server found in the lifespan state; the rest is
FastAPI (probes, and the optional /api proxy). The embedded launcher hands in its
in-process bus and the messages app itself instead of Redis and the network.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import socketio
from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from parley_common.auth import TokenVerifier
from parley_common.bus import Bus
from parley_common.config import ConfigError
from parley_common.errors import Unavailable
from parley_common.event_limits import EventLimiter
from parley_common.http import install_error_handlers, install_host_check, probe_router
from parley_common.observability import RequestIdMiddleware
from parley_common.presence import RedisReportSink, ReportSink
from parley_common.redis_client import RedisClient, redis_bus, redis_from_settings
from parley_common.room_publisher import RoomEventPublisher
from parley_gateway import api_proxy, web_ui
from parley_gateway.config import GatewaySettings
from parley_gateway.drain import Drain
from parley_gateway.expiry import TokenExpiry
from parley_gateway.fanout import room_feed
from parley_gateway.messages_client import MessagesClient
from parley_gateway.metrics import SOCKETS_BY_TRANSPORT
from parley_gateway.presence_reporter import PresenceReporter
from parley_gateway.sio.gate import EngineGate
from parley_gateway.sio.namespace import ChatNamespace
from parley_gateway.sio.server import create_server, manager_running
from parley_gateway.sio.sessions import Sessions
from parley_gateway.typing_relay import TypingRelay

log = logging.getLogger(__name__)

SOCKETIO_PATH = "/socket.io/"


class SocketIORoute:
    """Send ``/socket.io/`` traffic to the running Socket.IO server, the rest to FastAPI."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and (scope["path"] + "/").startswith(SOCKETIO_PATH):
            await scope["state"]["socketio_app"](scope, receive, send)
            return
        await self.app(scope, receive, send)


def _redis(settings: GatewaySettings, stack: AsyncExitStack) -> RedisClient | None:
    """The process's Redis pool (bus, presence reports, event limits), closed with ``stack``."""
    if not settings.uses_redis:
        return None
    redis = redis_from_settings(settings)
    stack.push_async_callback(redis.aclose)
    return redis


def _event_limiter(settings: GatewaySettings, redis: RedisClient | None) -> EventLimiter:
    """Shared by every gateway through Redis; this process's own without it."""
    if redis is None:
        return EventLimiter.in_memory(settings.event_limits())
    return EventLimiter.redis(redis, settings.event_limits(), prefix=settings.redis_prefix)


def create_app(
    settings: GatewaySettings,
    *,
    bus: Bus | None = None,
    messages_app: ASGIApp | None = None,
    presence_sink: ReportSink | None = None,
    event_limiter: EventLimiter | None = None,
) -> FastAPI:
    if (bus is None or presence_sink is None) and not settings.uses_redis:
        raise ConfigError(
            "Invalid configuration:\n  REDIS_URL or REDIS_SENTINELS: required when the gateway runs alone"
        )
    drain = Drain(timeout_s=settings.drain_timeout_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            messages = MessagesClient.create(settings, app=messages_app)
            stack.push_async_callback(messages.aclose)
            app_bus, sink = bus, presence_sink
            redis = _redis(settings, stack)
            if app_bus is None or sink is None:
                assert redis is not None  # checked above
                app_bus = app_bus or redis_bus(redis, prefix=settings.redis_prefix)
                sink = sink or RedisReportSink(redis, prefix=settings.redis_prefix)
            sessions = Sessions()
            presence = PresenceReporter(
                sink,
                gateway_id=uuid.uuid4().hex,
                ttl_ms=int(settings.presence_gateway_ttl_s * 1000),
                sockets=sessions.joined,
            )
            await stack.enter_async_context(presence.running())
            state: dict[str, Any] = {}
            if settings.api_proxy_url:
                proxy = api_proxy.create_client(settings.api_proxy_url, timeout_s=settings.internal_timeout_s)
                stack.push_async_callback(proxy.aclose)
                state["api_proxy"] = proxy
            sio = create_server(settings)
            limiter = event_limiter or _event_limiter(settings, redis)
            router = settings.router()
            await stack.enter_async_context(manager_running(sio))
            feed = await stack.enter_async_context(room_feed(app_bus, sio, router))
            namespace = ChatNamespace(
                verifier=TokenVerifier(settings),
                messages=messages,
                expiry=TokenExpiry(leeway_s=settings.jwt_leeway_s),
                drain=drain,
                presence=presence,
                limiter=limiter,
                typing=TypingRelay(interval_s=settings.typing_relay_interval_ms / 1000),
                rooms=feed,
                relays=RoomEventPublisher(app_bus, router),
                max_connections_per_user=settings.max_connections_per_user,
                sessions=sessions,
            )
            sio.register_namespace(namespace)
            SOCKETS_BY_TRANSPORT.source = lambda: _transports(sio, sessions)
            stack.callback(setattr, SOCKETS_BY_TRANSPORT, "source", None)
            yield state | {
                "socketio_app": EngineGate(
                    socketio.ASGIApp(sio, socketio_path=SOCKETIO_PATH),
                    server=sio,
                    max_bytes=settings.max_packet_bytes,
                    max_per_address=settings.max_connections_per_address,
                ),
                "sio": sio,
                "namespace": namespace,
                "feed": feed,
            }

    async def ready(request: Request) -> None:
        if drain.draining:
            raise Unavailable("draining")
        if not request.state.feed.listening:
            raise Unavailable("not subscribed to the bus")

    app = FastAPI(
        title="Parley gateway",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.drain = drain
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(probe_router(ready))
    if settings.api_proxy_url:
        app.include_router(api_proxy.router())
    if settings.web_ui:
        web_ui.install(app)
    app.add_middleware(SocketIORoute)
    # Outermost, so that it comes before everything, /socket.io/ included.
    install_host_check(app, names=settings.allowed_hosts, dev_mode=settings.dev_mode)
    return app


def _transports(sio: socketio.AsyncServer, sessions: Sessions) -> list[str]:
    """The transport of every connected socket (one that left meanwhile is skipped)."""
    transports = []
    for sid in sessions.sids():
        try:
            transports.append(sio.transport(sid))
        except (KeyError, ValueError):
            continue
    return transports
