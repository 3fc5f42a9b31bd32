"""What services tell each other over the bus.

A service that changed something a room should hear about publishes a :class:`RoomEvent`
on :data:`ROOM_EVENTS` after its transaction committed; gateways subscribe and emit it to
``conversation:<id>``. The bus is a live feed, not a log: a gateway that misses an event
(restart, Redis blip) loses nothing durable, because clients sync by seq (PROTOCOL §4.7).
"""

from __future__ import annotations

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
