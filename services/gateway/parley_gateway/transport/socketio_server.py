"""python-socketio's server, with the doors it leaves open closed.

:class:`ParleyServer` closes these, so that a misbehaving client harms only itself (PROTOCOL §3):

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

An event's ack is sent without awaiting (:func:`~parley_gateway.transport.local_emit.send_locally`),
written straight to the WebSocket when nothing is queued before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import socketio
from socketio import packet as sio_packet
from starlette.types import Scope

from parley_gateway.transport.engine_server import LeanEngineServer
from parley_gateway.transport.local_emit import send_locally

log = logging.getLogger(__name__)


def client_address(scope: Scope) -> str | None:
    """The client's address as uvicorn saw it (from ``X-Forwarded-For`` when the peer is
    one of FORWARDED_ALLOW_IPS, such as the ingress)."""
    client = scope.get("client")
    return client[0] if client else None


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
        event = self._event_in_slot(slots, sid, eio_sid, data, namespace, id)
        task = asyncio.get_running_loop().create_task(event)
        self._events.add(task)
        task.add_done_callback(self._events.discard)

    async def _event_in_slot(
        self, slots: asyncio.Semaphore, sid: str, eio_sid: str, data: Any, namespace: str, id: Any
    ) -> None:
        try:
            # Upstream's _handle_event_internal, its ack sent by send_locally.
            handler = None if self.handlers else self.namespace_handlers.get(namespace)
            if handler is not None:
                # What upstream's _trigger_event does when no handler was registered with
                # ``on`` (Parley registers a namespace only), without its two look-ups.
                answer = await handler.trigger_event(data[0], sid, *data[1:])
            else:
                answer = await self._trigger_event(data[0], namespace, sid, *data[1:])
            if answer is not self.not_handled and id is not None:
                args = [] if answer is None else list(answer) if isinstance(answer, tuple) else [answer]
                send_locally(
                    self, eio_sid, self.packet_class(sio_packet.ACK, namespace=namespace, id=id, data=args)
                )
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
