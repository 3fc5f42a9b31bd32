"""Room events onto the bus in commit order, without the caller waiting for the bus.

A send is answered as soon as it is committed; its ``message:new`` follows on the bus
through one writer task, so the ack path saves a Redis round trip and events still leave
in the order their commits were made. Whatever queued up while a publish was under way
leaves together: one payload per channel (``{"batch": [...]}`` when it holds several), all
of them in one round trip (:meth:`Bus.publish_many`). So under load one PUBLISH (and one
message for each gateway in that room to decode) carries many events.

The bus is a live feed, not a log (see :mod:`parley_common.events`): a publish that fails
is logged and dropped; clients catch up by seq.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from parley_common.bus import Bus
from parley_common.channels import Router

log = logging.getLogger(__name__)

RoomEventDict = dict[str, Any]  # RoomEvent / UserEvent .model_dump()


class RoomEventPublisher:
    def __init__(self, bus: Bus, router: Router | None = None) -> None:
        self._bus = bus
        self._router = router or Router()
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
                by_channel: dict[str, list[RoomEventDict]] = {}
                for event in events:  # dicts keep insertion order: each channel's events in order
                    by_channel.setdefault(self._router.channel_of(event), []).append(event)
                messages = [
                    (channel, batch[0] if len(batch) == 1 else {"batch": batch})
                    for channel, batch in by_channel.items()
                ]
                try:
                    await self._bus.publish_many(messages)
                except Exception:
                    log.exception("could not publish %d room event(s)", len(events))
        finally:
            self._writer = None

    async def flush(self) -> None:
        """Wait until everything queued so far is published (at shutdown: nothing committed
        is left unannounced)."""
        while self._writer is not None:
            await asyncio.shield(self._writer)
