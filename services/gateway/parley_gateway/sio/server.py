"""Building the python-socketio server, and running its client manager.

With REDIS_URL the manager is python-socketio's ``AsyncRedisManager``: rooms span every
gateway, so an emit to a room (typing) reaches members connected elsewhere. Its listener
is started here at start-up rather than at the first connection, so that a gateway is
subscribed before it reports ready, and it is stopped on shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import socketio

from parley_gateway.config import GatewaySettings
from parley_gateway.sio.codec import OrjsonCodec


def create_server(settings: GatewaySettings) -> socketio.AsyncServer:
    manager: socketio.AsyncManager
    if settings.redis_url:
        manager = socketio.AsyncRedisManager(settings.redis_url, channel=f"{settings.redis_prefix}:socketio")
    else:
        manager = socketio.AsyncManager()
    return socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        json=OrjsonCodec,
        ping_interval=settings.ping_interval_ms / 1000,
        ping_timeout=settings.ping_timeout_ms / 1000,
        max_http_buffer_size=settings.max_packet_bytes,
        cors_allowed_origins=settings.allowed_origins,
        transports=["polling", "websocket"],
        logger=False,
        engineio_logger=False,
    )


def manager_subscribed(sio: socketio.AsyncServer) -> bool:
    """True once the Redis manager has subscribed (always true without Redis)."""
    pubsub = getattr(sio.manager, "pubsub", None)
    if not isinstance(sio.manager, socketio.AsyncRedisManager):
        return True
    return bool(pubsub is not None and pubsub.subscribed)


@asynccontextmanager
async def manager_running(sio: socketio.AsyncServer) -> AsyncIterator[None]:
    sio.manager_initialized = True  # tells python-socketio not to initialize it again
    sio.manager.initialize()
    try:
        yield
    finally:
        listener = getattr(sio.manager, "thread", None)
        if isinstance(listener, asyncio.Future):
            listener.cancel()
            with suppress(asyncio.CancelledError):
                await listener
        redis = getattr(sio.manager, "redis", None)
        if redis is not None:
            await redis.aclose()
        await sio.shutdown()
