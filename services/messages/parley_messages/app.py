"""Composition root of the messages service: ``create_app(settings)``.

The lifespan builds every dependency once (engine, Redis, bus, limiters, service) and
closes them on shutdown. The embedded launcher passes its own in-process ``bus``,
``online`` reader and ``event_limiter``; a standalone process builds them from REDIS_URL.
(The send rate limit needs none of them: it is counted in the database, with the sends.)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from parley_common.auth import TokenVerifier
from parley_common.bus import Bus, InProcessBus
from parley_common.event_limits import EventLimiter
from parley_common.http import BodySizeLimit, install_error_handlers, install_host_check, probe_router
from parley_common.observability import RequestIdMiddleware
from parley_common.presence import OnlineReader, RedisOnlineReader
from parley_common.redis_client import redis_bus, redis_from_settings
from parley_messages.api import client_config, dev, internal, public
from parley_messages.api.send_route import SendBatchRoute
from parley_messages.config import MessagesSettings
from parley_messages.db import create_engine
from parley_messages.pg_send import PgSendStore
from parley_messages.service import MessagesService
from parley_messages.sqlite_send import SqliteSendStore
from parley_messages.store import MessageStore

log = logging.getLogger(__name__)


async def _database_ready(request: Request) -> None:
    service: MessagesService = request.state.service
    await service.ping()


def create_app(
    settings: MessagesSettings,
    *,
    bus: Bus | None = None,
    online: OnlineReader | None = None,
    event_limiter: EventLimiter | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            engine = create_engine(settings)
            stack.push_async_callback(engine.dispose)
            app_bus, app_online, app_events = bus, online, event_limiter
            if settings.uses_redis and None in (app_bus, app_online, app_events):
                redis = redis_from_settings(settings)
                stack.push_async_callback(redis.aclose)
                prefix = settings.redis_prefix
                app_bus = app_bus or redis_bus(redis, prefix=prefix)
                app_online = app_online or RedisOnlineReader(redis, prefix=prefix)
                app_events = app_events or EventLimiter.redis(redis, settings.event_limits(), prefix=prefix)
            if app_bus is None:
                log.warning("REDIS_URL is unset: events stay in this process (embedded mode only)")
                app_bus = InProcessBus()
            service = MessagesService(
                store=MessageStore(engine),
                sends=PgSendStore(engine) if engine.dialect.name == "postgresql" else SqliteSendStore(engine),
                bus=app_bus,
                online=app_online,
                sync_max_bytes=settings.sync_max_bytes,
                router=settings.router(),
            )
            stack.push_async_callback(service.events_published)  # before Redis closes
            app.state.service = service  # for tests that wait for events_published
            yield {
                "settings": settings,
                "service": service,
                "verifier": TokenVerifier(settings),
                "event_limiter": app_events or EventLimiter.in_memory(settings.event_limits()),
            }

    app = FastAPI(
        title="Parley messages",
        version="1",
        summary="Conversations, messages and receipts (PROTOCOL.md §5) and the gateway's internal API.",
        lifespan=lifespan,
        # The schema names every internal route and field: for developers, not for strangers.
        docs_url="/docs" if settings.dev_mode else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.dev_mode else None,
    )
    install_error_handlers(app)
    # Innermost: the batch send route takes the request id, size limit and host check too.
    app.add_middleware(SendBatchRoute, internal_token=settings.internal_token_value)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.include_router(probe_router(_database_ready))
    app.include_router(public.router)
    app.include_router(client_config.router)
    app.include_router(internal.router)
    if settings.dev_mode:
        app.include_router(dev.router)
    # Outermost, so that it comes before everything, /socket.io/ included.
    install_host_check(app, names=settings.allowed_hosts, dev_mode=settings.dev_mode)
    return app
