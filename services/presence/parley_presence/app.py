"""Composition root of the presence service: ``create_app(settings)``.

The lifespan builds the store and the report source (Redis, or what the embedded
launcher hands in) and runs the presence loop until shutdown. Every replica runs the
loop; only the holder of the leader lease applies anything (see ``service.py``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from parley_common.config import ConfigError
from parley_common.errors import Unavailable
from parley_common.http import install_error_handlers, probe_router
from parley_common.observability import RequestIdMiddleware
from parley_common.redis_client import is_cluster, redis_bus, redis_from_settings
from parley_common.tasks import cancel_and_wait
from parley_presence.config import PresenceSettings
from parley_presence.reports import RedisReportSource, ReportSource
from parley_presence.service import PresenceService
from parley_presence.store import PresenceStore, RedisPresenceStore

log = logging.getLogger(__name__)

# How often a replica that does not hold the leader lease asks for it again (the lease
# lasts LEASE_MS, 5 s): asking at once after each refusal kept a core busy with Redis calls.
FOLLOWER_RETRY_S = 0.5


async def run_forever(service: PresenceService) -> None:
    while True:
        try:
            await service.step()
            if not service.leading:
                await asyncio.sleep(FOLLOWER_RETRY_S)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Redis down or a bug in one round: nothing was acked, so nothing is lost; retry.
            log.exception("presence round failed; retrying")
            service.leading = False
            await asyncio.sleep(1)


def create_app(
    settings: PresenceSettings, *, store: PresenceStore | None = None, source: ReportSource | None = None
) -> FastAPI:
    if (store is None or source is None) and not settings.uses_redis:
        raise ConfigError(
            "Invalid configuration:\n  REDIS_URL (or REDIS_SENTINELS): required when presence runs on its own"
        )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            me = uuid.uuid4().hex
            state: dict[str, Any] = {}
            app_store, app_source = store, source
            if app_store is None or app_source is None:
                assert settings.uses_redis
                redis = redis_from_settings(settings)
                stack.push_async_callback(redis.aclose)
                state["redis"] = redis
                app_store = app_store or RedisPresenceStore(
                    redis,
                    prefix=settings.redis_prefix,
                    router=settings.router(),
                    outbox=redis_bus(redis, prefix=settings.redis_prefix) if is_cluster(redis) else None,
                )
                if app_source is None:
                    redis_source = RedisReportSource(redis, prefix=settings.redis_prefix, consumer=me)
                    await redis_source.ensure_group()
                    app_source = redis_source
            service = PresenceService(
                store=app_store, source=app_source, me=me, grace_ms=settings.presence_grace_ms
            )
            loop = asyncio.create_task(run_forever(service), name="presence")
            try:
                yield state | {"presence": service}
            finally:
                await cancel_and_wait(loop)

    async def ready(request: Request) -> None:
        redis = getattr(request.state, "redis", None)
        if redis is not None:
            try:
                await redis.ping()
            except Exception:
                raise Unavailable("Redis does not answer") from None

    app = FastAPI(
        title="Parley presence",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(probe_router(ready))
    return app
