"""Room events from the bus to this gateway's sockets.

The messages service publishes a :class:`parley_common.events.RoomEvent` after each commit
(``message:new``, ``message:delivered``, ``message:read``). Every gateway subscribes and
emits it to its own members of ``conversation:<id>`` only (:func:`emit_locally`): relaying
it through the Socket.IO Redis manager as well would deliver it once per gateway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import socketio

from parley_common.bus import Bus
from parley_common.events import ROOM_EVENTS, unpack_room_events
from parley_gateway.rooms import conversation_room
from parley_gateway.transport.local_emit import emit_locally

log = logging.getLogger(__name__)


@asynccontextmanager
async def room_events_to_sockets(bus: Bus, sio: socketio.AsyncServer) -> AsyncIterator[None]:
    """Deliver bus room events while the context is open (subscribed before it yields)."""
    async with bus.subscribe(ROOM_EVENTS) as events:
        task = asyncio.create_task(_deliver(events, sio), name="room-events")
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


async def _deliver(events: AsyncIterator[tuple[str, dict[str, Any]]], sio: socketio.AsyncServer) -> None:
    async for _, payload in events:
        for event in unpack_room_events(payload):
            await _emit(sio, event)


async def _emit(sio: socketio.AsyncServer, event: dict[str, Any]) -> None:
    try:
        emit_locally(
            sio,
            event["event"],
            event["data"],
            room=conversation_room(event["conversation_id"]),
            skip_sid=event.get("skip_socket_id"),
        )
    except Exception:
        # One bad event must not stop delivery of the rest; clients catch up by seq.
        log.exception("could not deliver a room event")
