"""Room and user events from the bus to this gateway's sockets, hearing only its own rooms.

The messages and presence services publish each event on its conversation's channel (or
its user's, :mod:`parley_common.channels`), and typing relays go the same way. A gateway
subscribes to a room's channel when its first local socket enters the room and
unsubscribes after the last one left (:class:`RoomFeed`), so with G gateways each hears
the rooms it hosts, not G times the whole deployment's traffic. The subscription is
confirmed before a join is answered; what was published before it, the client gets by
seq sync (PROTOCOL §4.7). Each event is emitted to this gateway's own members of the room
only (:func:`emit_locally`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import socketio

from parley_common.bus import Bus, Subscription
from parley_common.channels import ROOM_EVENTS, Router
from parley_common.errors import Unavailable
from parley_common.events import unpack_room_events
from parley_gateway.metrics import BUS_CPU, BUS_EVENTS, BUS_MESSAGES, BUS_ROOMS
from parley_gateway.rooms import conversation_room, user_room
from parley_gateway.transport.local_emit import emit_locally

log = logging.getLogger(__name__)


class RoomFeed:
    """The bus channels of the rooms this gateway's sockets are in, counted per socket."""

    def __init__(self, subscription: Subscription, router: Router) -> None:
        self._subscription = subscription
        self._router = router
        self._sockets: Counter[str] = Counter()
        self._subscribing: dict[str, asyncio.Future[bool]] = {}

    @property
    def listening(self) -> bool:
        return self._subscription.listening

    @property
    def channels(self) -> int:
        return len(self._sockets)

    async def enter(self, room: str) -> None:
        """A local socket is entering ``room``: returns once its channel is subscribed, or
        raises :class:`Unavailable` (the entry undone) when Redis did not confirm it in time:
        answering the join anyway would leave the socket deaf to the room until its next
        sync, with nothing telling it to sync."""
        channel = self._router.room_channel(room)
        if channel is None:
            return
        self._sockets[channel] += 1
        subscribing = self._subscribing.get(channel)
        if self._sockets[channel] == 1:
            subscribing = asyncio.ensure_future(self._subscription.add(channel))
            self._subscribing[channel] = subscribing
            subscribing.add_done_callback(lambda done: self._done(channel, done))
            BUS_ROOMS.set(len(self._sockets))
        # Shielded: a cancelled join must not cancel the subscription others wait for.
        if subscribing is not None and not await asyncio.shield(subscribing):
            await self.leave(room)
            raise Unavailable("this gateway could not subscribe to the room's events in time; retry")

    def _done(self, channel: str, subscribing: asyncio.Future[bool]) -> None:
        if self._subscribing.get(channel) is subscribing:
            del self._subscribing[channel]

    async def leave(self, room: str) -> None:
        """A local socket left ``room``; after the last one the channel is unsubscribed."""
        channel = self._router.room_channel(room)
        if channel is None or channel not in self._sockets:
            return
        self._sockets[channel] -= 1
        if self._sockets[channel] > 0:
            return
        del self._sockets[channel]
        BUS_ROOMS.set(len(self._sockets))
        # Sent after the SUBSCRIBE of a join still in flight: Redis applies them in order.
        await self._subscription.remove(channel)


@asynccontextmanager
async def room_feed(bus: Bus, sio: socketio.AsyncServer, router: Router) -> AsyncIterator[RoomFeed]:
    """Deliver bus events while the context is open. The one channel of ``single`` routing
    (in ``rooms`` routing nothing goes there: it keeps the connection up, and the readiness
    check honest) is subscribed before it yields."""
    async with bus.listen() as subscription:
        if not await subscription.add(ROOM_EVENTS):
            raise TimeoutError("the bus did not confirm the subscription")
        task = asyncio.create_task(_deliver(subscription, sio), name="room-events")
        try:
            yield RoomFeed(subscription, router)
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task


async def _deliver(subscription: Subscription, sio: socketio.AsyncServer) -> None:
    decoded_cpu = subscription.decode_cpu_s
    async for _, payload in subscription:
        started = time.thread_time()  # nothing below awaits: this is the bus's own CPU
        BUS_MESSAGES.inc()
        for event in unpack_room_events(payload):
            BUS_EVENTS.inc()
            _emit(sio, event)
        decoding, decoded_cpu = subscription.decode_cpu_s - decoded_cpu, subscription.decode_cpu_s
        BUS_CPU.inc(time.thread_time() - started + decoding)


def _emit(sio: socketio.AsyncServer, event: dict[str, Any]) -> None:
    try:
        conversation_id = event.get("conversation_id")
        room = (
            conversation_room(conversation_id) if conversation_id is not None else user_room(event["user_id"])
        )
        emit_locally(sio, event["event"], event["data"], room=room, skip_sid=event.get("skip_socket_id"))
    except Exception:
        # One bad event must not stop delivery of the rest; clients catch up by seq.
        log.exception("could not deliver a bus event")
