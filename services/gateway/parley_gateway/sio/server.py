"""Building the python-socketio server, and running its client manager.

With Redis the manager is :class:`RedisManager` (python-socketio's pub/sub manager on the
gateway's Redis pool): rooms span every gateway, so an emit to a room (typing) reaches
members connected elsewhere. Its listener is started here at start-up rather than at the
first connection, so that a gateway is subscribed before it reports ready, and it is
stopped on shutdown.

The server class itself, and everything else that reaches into python-socketio, is in
:mod:`parley_gateway.transport`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import redis.asyncio as aioredis
import socketio

from parley_gateway.config import GatewaySettings
from parley_gateway.sio.codec import OrjsonCodec
from parley_gateway.transport.local_emit import JsonOnlyPacket
from parley_gateway.transport.redis_manager import RedisManager
from parley_gateway.transport.socketio_server import ParleyServer

log = logging.getLogger(__name__)


def create_server(settings: GatewaySettings, *, redis: aioredis.Redis | None = None) -> ParleyServer:
    manager: socketio.AsyncManager
    if redis is not None:
        manager = RedisManager(redis, channel=f"{settings.redis_prefix}:socketio")
    else:
        manager = socketio.AsyncManager()
    origins = settings.origin_policy()
    server = ParleyServer(
        connect_timeout_s=settings.connect_timeout_s,
        events_in_flight=settings.max_events_in_flight,
        async_mode="asgi",
        client_manager=manager,
        serializer=JsonOnlyPacket,
        json=OrjsonCodec,
        ping_interval=settings.ping_interval_ms / 1000,
        ping_timeout=settings.ping_timeout_ms / 1000,
        max_http_buffer_size=settings.max_packet_bytes,
        cors_allowed_origins=origins,
        cors_credentials=origins.credentials,
        transports=["polling", "websocket"],
        logger=False,
        engineio_logger=False,
    )
    server.eio.max_outgoing_bytes = settings.max_outgoing_bytes
    return server


def manager_subscribed(sio: socketio.AsyncServer) -> bool:
    """True while the Redis manager is subscribed (always true without Redis)."""
    if not isinstance(sio.manager, RedisManager):
        return True
    return sio.manager.listening


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
        if isinstance(sio.manager, RedisManager):
            await sio.manager.close()  # its pool is the gateway's, closed by the lifespan
        await sio.shutdown()
