"""Building the python-socketio server, and running its client manager.

With Redis the manager is :class:`RedisManager` (python-socketio's pub/sub manager on the
gateway's Redis pool): rooms span every gateway, so an emit to a room (typing) reaches
members connected elsewhere. Its listener is started here at start-up rather than at the
first connection, so that a gateway is subscribed before it reports ready, and it is
stopped on shutdown.

:class:`ParleyServer` closes two doors python-socketio leaves open, so that a misbehaving
client harms only itself (PROTOCOL §3):

- Binary and malformed packets. Parley's events are JSON only; a binary event header may
  announce up to 10⁹ attachments, which python-socketio would buffer in memory as they
  come. Any binary packet, and any packet python-socketio cannot decode, closes that connection.
- Connections that never authenticate. An Engine.IO connection whose Socket.IO CONNECT has
  not been accepted within ``CONNECT_TIMEOUT_S`` (never sent, refused, or disconnected from
  the namespace since) is closed, as socket.io's own ``connectTimeout`` does. Without it a
  client could hold connections without a token, answering pings forever.
- Events without a bound. python-socketio runs every event in a task of its own, however
  many a client sends before the first is answered. Here at most ``MAX_EVENTS_IN_FLIGHT``
  of one connection run at once; the next waits for a slot, and while it waits nothing
  more is read from that connection (its frames stay in its TCP buffer), so a client that
  sends faster than it is answered slows itself down and nobody else.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import redis.asyncio as aioredis
import socketio

from parley_gateway.config import GatewaySettings
from parley_gateway.sio.codec import OrjsonCodec
from parley_gateway.sio.engine import LeanEngineServer
from parley_gateway.sio.gate import client_address
from parley_gateway.sio.local_emit import JsonOnlyPacket
from parley_gateway.sio.redis_manager import RedisManager

log = logging.getLogger(__name__)

# Socket.IO packet types 5 and 6: BINARY_EVENT, BINARY_ACK (their header is text).
_BINARY_PACKET_TYPES = ("5", "6")


class ParleyServer(socketio.AsyncServer):
    """python-socketio's server without binary packets and with a connect deadline.

    The overridden ``_handle_eio_*`` methods are python-socketio's Engine.IO callbacks
    (python-socketio is pinned); each calls the original for everything it lets through.
    """

    def __init__(self, *, connect_timeout_s: float, events_in_flight: int = 16, **options: Any) -> None:
        super().__init__(**options)
        self._connect_timeout_s = connect_timeout_s
        self._deadlines: dict[str, asyncio.TimerHandle] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._events_in_flight = events_in_flight
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._events: set[asyncio.Task[None]] = set()
        # Open Engine.IO transports per client address (sio/gate.py caps new ones).
        self._addresses: dict[str, str] = {}
        self._per_address: Counter[str] = Counter()

    def transports_from(self, address: str) -> int:
        return self._per_address[address]

    def _engineio_server_class(self) -> type:
        return LeanEngineServer

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        answer = await super()._handle_eio_connect(eio_sid, environ)
        address = client_address(environ.get("asgi.scope") or {})
        if address is not None:
            self._addresses[eio_sid] = address
            self._per_address[address] += 1
        self._arm_deadline(eio_sid)
        return answer

    async def _handle_eio_message(self, eio_sid: str, data: str | bytes) -> None:
        if isinstance(data, bytes) or data[:1] in _BINARY_PACKET_TYPES:
            await self.eio.disconnect(eio_sid)
            return
        try:
            await super()._handle_eio_message(eio_sid, data)
        except Exception as exc:
            # A packet no Socket.IO client writes (bad JSON, no event name, an unknown type):
            # close that connection, as socket.io does, with one line rather than a traceback.
            log.info("closing a connection after a malformed packet: %r", exc)
            await self.eio.disconnect(eio_sid)

    async def _handle_disconnect(self, eio_sid: str, namespace: str | None, reason: Any = None) -> None:
        await super()._handle_disconnect(eio_sid, namespace, reason)
        if eio_sid in self.environ:  # the transport stays open without a namespace
            self._arm_deadline(eio_sid)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        await super()._handle_eio_disconnect(eio_sid, reason)
        self._slots.pop(eio_sid, None)
        address = self._addresses.pop(eio_sid, None)
        if address is not None:
            self._per_address[address] -= 1
            if not self._per_address[address]:
                del self._per_address[address]
        deadline = self._deadlines.pop(eio_sid, None)
        if deadline is not None:
            deadline.cancel()

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: Any, data: Any) -> None:
        # Upstream's, with a slot per event (see the module docstring).
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if not self.manager.is_connected(sid, namespace):
            return
        slots = self._slots.get(eio_sid)
        if slots is None:
            slots = self._slots[eio_sid] = asyncio.Semaphore(self._events_in_flight)
        await slots.acquire()
        task = asyncio.ensure_future(self._event_in_slot(slots, sid, eio_sid, data, namespace, id))
        self._events.add(task)
        task.add_done_callback(self._events.discard)

    async def _event_in_slot(
        self, slots: asyncio.Semaphore, sid: str, eio_sid: str, data: Any, namespace: str, id: Any
    ) -> None:
        try:
            await self._handle_event_internal(self, sid, eio_sid, data, namespace, id)
        finally:
            slots.release()

    def _arm_deadline(self, eio_sid: str) -> None:
        previous = self._deadlines.pop(eio_sid, None)
        if previous is not None:
            previous.cancel()
        loop = asyncio.get_running_loop()
        self._deadlines[eio_sid] = loop.call_later(self._connect_timeout_s, self._deadline_passed, eio_sid)

    def _deadline_passed(self, eio_sid: str) -> None:
        self._deadlines.pop(eio_sid, None)
        if self.manager.sid_from_eio_sid(eio_sid, "/") is not None:
            return  # connected in time
        task = asyncio.ensure_future(self.eio.disconnect(eio_sid))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


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
