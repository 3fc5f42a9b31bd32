"""Room events onto the bus in commit order, without the caller waiting for the bus.

A send is answered as soon as it is committed; its ``message:new`` follows on the bus
through one writer task, so the ack path saves a Redis round trip and events still leave
in the order their commits were made. Whatever queued up while a publish was under way
leaves as one ``{"batch": [...]}`` payload: under load, one PUBLISH (and one message for
every gateway to decode) carries many events.

The bus is a live feed, not a log (see :mod:`parley_common.events`): a publish that fails
is logged and dropped; clients catch up by seq.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from parley_common.bus import Bus
from parley_common.events import ROOM_EVENTS

log = logging.getLogger(__name__)

RoomEventDict = dict[str, Any]  # RoomEvent.model_dump(): conversation_id, event, data, skip_socket_id


class RoomEventPublisher:
    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._pending: list[RoomEventDict] = []
        self._writer: asyncio.Task[None] | None = None

    def publish(self, events: list[RoomEventDict]) -> None:
        """Queue committed events; they go out after everything queued before them."""
        if not events:
            return
        self._pending.extend(events)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write(), name="room-events-out")

    async def _write(self) -> None:
        try:
            while self._pending:
                events, self._pending = self._pending, []
                payload = events[0] if len(events) == 1 else {"batch": events}
                try:
                    await self._bus.publish(ROOM_EVENTS, payload)
                except Exception:
                    log.exception("could not publish %d room event(s)", len(events))
        finally:
            self._writer = None

    async def flush(self) -> None:
        """Wait until everything queued so far is published (at shutdown: nothing committed
        is left unannounced)."""
        while self._writer is not None:
            await asyncio.shield(self._writer)
