"""Building the python-socketio server, and running its client manager.

The manager is python-socketio's local one: its rooms are this gateway's sockets. What
spans gateways (room events, typing relays, user events) goes over the bus, on the
channel of its room (:mod:`parley_gateway.fanout`), not through a Socket.IO pub/sub
manager, which would send every relay to every gateway on one channel.

The server class itself, and everything else that reaches into python-socketio, is in
:mod:`parley_gateway.transport`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import socketio

from parley_gateway.config import GatewaySettings
from parley_gateway.sio.codec import OrjsonCodec
from parley_gateway.transport.local_emit import JsonOnlyPacket
from parley_gateway.transport.socketio_server import ParleyServer

log = logging.getLogger(__name__)


def create_server(settings: GatewaySettings) -> ParleyServer:
    origins = settings.origin_policy()
    server = ParleyServer(
        connect_timeout_s=settings.connect_timeout_s,
        events_in_flight=settings.max_events_in_flight,
        async_mode="asgi",
        client_manager=socketio.AsyncManager(),
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


@asynccontextmanager
async def manager_running(sio: socketio.AsyncServer) -> AsyncIterator[None]:
    sio.manager_initialized = True  # tells python-socketio not to initialize it again
    sio.manager.initialize()
    try:
        yield
    finally:
        await sio.shutdown()
