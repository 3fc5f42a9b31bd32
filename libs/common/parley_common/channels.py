"""Which bus channel carries an event (``BUS_ROUTING``).

``rooms`` (the default): each conversation and each user has its own channel, and a gateway
subscribes to the channels of the rooms its sockets are in, so it hears only its own share
of the traffic. ``single``: every event on one channel that every gateway hears and filters
(the design before per-room channels; kept for comparison in the benchmark).

Order is kept per channel, so per conversation: a publisher sends a conversation's events
in order on one connection, and Redis delivers one channel's messages in publish order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# The one channel of ``single`` routing; in ``rooms`` routing a gateway listens to it too
# (nothing is routed there), which keeps its connection, and so its readiness, meaningful.
ROOM_EVENTS = "room-events"


class BusRouting(StrEnum):
    ROOMS = "rooms"
    SINGLE = "single"


def conversation_channel(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def user_channel(user_id: str) -> str:
    return f"user:{user_id}"


@dataclass(frozen=True)
class Router:
    routing: BusRouting = BusRouting.ROOMS

    @property
    def per_room(self) -> bool:
        return self.routing is BusRouting.ROOMS

    def channel_of(self, event: dict[str, Any]) -> str:
        """The channel of a room event (``conversation_id``) or a user event (``user_id``)."""
        if not self.per_room:
            return ROOM_EVENTS
        conversation_id = event.get("conversation_id")
        if conversation_id is not None:
            return conversation_channel(conversation_id)
        return user_channel(event["user_id"])

    def room_channel(self, room: str) -> str | None:
        """The channel a gateway subscribes to for a Socket.IO room (``conversation:C``,
        ``user:U``; the names are alike by design), None when it needs none."""
        return room if self.per_room else None
