"""What services tell each other over the bus.

A service that changed something a room should hear about publishes a :class:`RoomEvent`
on :data:`ROOM_EVENTS` after its transaction committed (several committed together go as
one ``{"batch": [...]}`` payload); gateways subscribe and emit each to
``conversation:<id>``. The bus is a live feed, not a log: a gateway that misses an event
(restart, Redis blip) loses nothing durable, because clients sync by seq (PROTOCOL §4.7).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict

ROOM_EVENTS = "room-events"


class RoomEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    conversation_id: str
    event: str
    data: dict[str, Any]
    # The socket that caused the event, which must not get it back (message:new, typing).
    skip_socket_id: str | None = None


def unpack_room_events(payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The room events of one bus payload, single or batched, in order."""
    batch = payload.get("batch")
    if isinstance(batch, list):
        yield from (item for item in batch if isinstance(item, dict))
    else:
        yield payload
