"""What services tell each other over the bus.

A service that changed something a room should hear about publishes a :class:`RoomEvent`
after its transaction committed, on the conversation's channel
(:mod:`parley_common.channels`; several for one channel committed together go as one
``{"batch": [...]}`` payload); a :class:`UserEvent` goes to every socket of one user, on
the user's channel. Gateways subscribe to the channels of their sockets' rooms and emit
each event to ``conversation:<id>`` / ``user:<id>``. The bus is a live feed, not a log: a
gateway that misses an event (restart, Redis blip) loses nothing durable, because clients
sync by seq (PROTOCOL §4.7).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict

from parley_common.channels import ROOM_EVENTS

__all__ = ["ROOM_EVENTS", "RoomEvent", "UserEvent", "unpack_room_events"]


class RoomEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    conversation_id: str
    event: str
    data: dict[str, Any]
    # The socket that caused the event, which must not get it back (message:new, typing).
    skip_socket_id: str | None = None


class UserEvent(BaseModel):
    """An event for every socket of one user (the room ``user:<id>``, PROTOCOL §2)."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    event: str
    data: dict[str, Any]


def unpack_room_events(payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The events of one bus payload, single or batched, in order."""
    batch = payload.get("batch")
    if isinstance(batch, list):
        yield from (item for item in batch if isinstance(item, dict))
    else:
        yield payload
