"""The bus: fire-and-forget pub/sub between services.

Two implementations behind one interface: :class:`InProcessBus` for the embedded default
(one process) and :class:`RedisBus` for everything else. Payloads are JSON objects.

A subscriber either names its channels up front (:meth:`Bus.subscribe`) or changes them
while it listens (:meth:`Bus.listen`): a gateway hears only the channels of the rooms its
sockets are in (:mod:`parley_common.channels`). :meth:`Subscription.add` returns once the
server confirmed the subscription, so whatever is published after it returns is heard.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

Envelope = tuple[str, dict[str, Any]]

CONFIRM_WAIT_S = 5.0
RETRY_S = 0.5
READ_WAIT_S = 1.0  # a bounded read: the pool's socket_timeout would cut a blocking one
SCRIPT_SLICE = 256  # messages per publishing script call


class Subscription(Protocol):
    """A live set of channels, iterated as (channel, payload) in arrival order."""

    async def add(self, channel: str) -> bool:
        """Subscribe; True once confirmed (False: the bus is down, it subscribes when back)."""
        ...

    async def remove(self, channel: str) -> None: ...

    @property
    def listening(self) -> bool:
        """Connected and reading (a gateway's readiness)."""
        ...

    @property
    def decode_cpu_s(self) -> float:
        """CPU spent so far decoding what arrived (for the gateway's bus metrics)."""
        ...

    def __aiter__(self) -> AsyncIterator[Envelope]: ...


class Bus(Protocol):
    async def publish(self, channel: str, payload: dict[str, Any]) -> None: ...

    async def publish_many(self, messages: Sequence[Envelope]) -> None:
        """Publish in order, in one round trip where the bus allows it."""
        ...

    def listen(self) -> AbstractAsyncContextManager[Subscription]: ...

    def subscribe(self, *channels: str) -> AbstractAsyncContextManager[AsyncIterator[Envelope]]:
        """An async context manager yielding an async iterator of (channel, payload),
        subscribed to ``channels`` before it yields."""
        ...


@asynccontextmanager
async def _subscribed(bus: Bus, channels: Sequence[str]) -> AsyncIterator[AsyncIterator[Envelope]]:
    async with bus.listen() as subscription:
        for channel in channels:
            if not await subscription.add(channel):
                raise TimeoutError(f"the bus did not confirm the subscription to {channel}")
        yield aiter(subscription)


class InProcessBus:
    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[Envelope]]] = defaultdict(set)
        self._taps: set[asyncio.Queue[Envelope]] = set()

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        for queue in self._queues.get(channel, ()):
            queue.put_nowait((channel, payload))
        for queue in self._taps:
            queue.put_nowait((channel, payload))

    async def publish_many(self, messages: Sequence[Envelope]) -> None:
        for channel, payload in messages:
            await self.publish(channel, payload)

    @asynccontextmanager
    async def listen(self) -> AsyncIterator[Subscription]:
        subscription = _InProcessSubscription(self._queues)
        try:
            yield subscription
        finally:
            subscription.close()

    def subscribe(self, *channels: str) -> AbstractAsyncContextManager[AsyncIterator[Envelope]]:
        return _subscribed(self, channels)

    @asynccontextmanager
    async def tap(self) -> AsyncIterator[AsyncIterator[Envelope]]:
        """Everything published on any channel, in publish order (tests, tools)."""
        queue: asyncio.Queue[Envelope] = asyncio.Queue()
        self._taps.add(queue)
        try:
            yield _drain(queue)
        finally:
            self._taps.discard(queue)


class _InProcessSubscription:
    def __init__(self, queues: dict[str, set[asyncio.Queue[Envelope]]]) -> None:
        self._queues = queues
        self._queue: asyncio.Queue[Envelope] = asyncio.Queue()
        self._channels: set[str] = set()

    async def add(self, channel: str) -> bool:
        self._channels.add(channel)
        self._queues[channel].add(self._queue)
        return True

    async def remove(self, channel: str) -> None:
        self._channels.discard(channel)
        queues = self._queues.get(channel)
        if queues is not None:
            queues.discard(self._queue)
            if not queues:
                del self._queues[channel]

    @property
    def listening(self) -> bool:
        return True

    @property
    def decode_cpu_s(self) -> float:
        return 0.0

    def __aiter__(self) -> AsyncIterator[Envelope]:
        return _drain(self._queue)

    def close(self) -> None:
        for channel in list(self._channels):
            queues = self._queues.get(channel)
            if queues is not None:
                queues.discard(self._queue)
                if not queues:
                    del self._queues[channel]
        self._channels.clear()


async def _drain(queue: asyncio.Queue[Envelope]) -> AsyncIterator[Envelope]:
    while True:
        yield await queue.get()


# ARGV: channel, payload, channel, payload, ... (channels are not keys: not for Redis Cluster,
# whose bus is parley_common.sharded_bus).
_PUBLISH_ALL = """
for i = 1, #ARGV, 2 do
    redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
end
return #ARGV / 2
"""


def encoded(prefix: str, messages: Sequence[Envelope]) -> list[tuple[str, bytes]]:
    """(Redis channel, JSON bytes) for each message, in order (both Redis buses)."""
    return [(prefix + channel, orjson.dumps(payload)) for channel, payload in messages]


class RedisBus:
    """Redis pub/sub; channels are namespaced by ``prefix`` so deployments can share a server."""

    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self._redis = client
        self._prefix = self.channel_name(prefix, "")
        self._publish_all = client.register_script(_PUBLISH_ALL)

    @staticmethod
    def channel_name(prefix: str, channel: str) -> str:
        """The Redis channel of a bus channel (for publishers outside this class, e.g. Lua)."""
        return f"{prefix}:bus:{channel}"

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        await self._redis.publish(self._prefix + channel, orjson.dumps(payload))

    async def publish_many(self, messages: Sequence[Envelope]) -> None:
        if len(messages) == 1:
            await self.publish(*messages[0])
            return
        # One command whatever the count: a pipeline costs the client ~12 µs per PUBLISH (a
        # commit batch of per-room channels has one per room); the script runs them in order,
        # so each channel's messages keep their order.
        args: list[str | bytes] = []
        for name, data in encoded(self._prefix, messages):
            args += (name, data)
        # A script holds Redis for its whole run: a backlog goes in slices, one after another.
        for start in range(0, len(args), 2 * SCRIPT_SLICE):
            await self._publish_all(args=args[start : start + 2 * SCRIPT_SLICE])

    @asynccontextmanager
    async def listen(self) -> AsyncIterator[Subscription]:
        subscription = _RedisSubscription(self._redis.pubsub(), self._prefix)
        try:
            yield subscription
        finally:
            await subscription.close()

    def subscribe(self, *channels: str) -> AbstractAsyncContextManager[AsyncIterator[Envelope]]:
        return _subscribed(self, channels)

    @asynccontextmanager
    async def tap(self) -> AsyncIterator[AsyncIterator[Envelope]]:
        """Every channel of this prefix, by pattern (tests, tools; not on Redis Cluster)."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.psubscribe(self._prefix + "*")
        try:
            await pubsub.ping()  # answered after the PSUBSCRIBE took effect
            yield self._tapped(pubsub)
        finally:
            await pubsub.aclose()

    async def _tapped(self, pubsub: Any) -> AsyncIterator[Envelope]:
        while True:
            item = await pubsub.get_message(timeout=READ_WAIT_S)
            if item is None or item.get("type") != "pmessage":
                continue
            channel = item["channel"].decode() if isinstance(item["channel"], bytes) else item["channel"]
            yield channel.removeprefix(self._prefix), orjson.loads(item["data"])


# Redis answers (S)SUBSCRIBE with a confirmation per channel, and delivers what is published
# after it processed the command; the confirmations come back in the order the commands went.
_CONFIRMATIONS = ("subscribe", "ssubscribe")
_MESSAGES = ("message", "smessage")
_MESSAGE_REPLIES = frozenset((b"message", b"smessage", "message", "smessage"))  # raw, as parsed


class _RedisSubscription:
    """One redis-py PubSub whose channels change while it is read.

    redis-py subscribes to every channel again whenever its connection comes back; a channel
    whose SUBSCRIBE failed (Redis was down) is subscribed by the reader once it is back.
    """

    def __init__(
        self, pubsub: Any, prefix: str, *, sharded: bool = False, on_lost: Callable[[], None] | None = None
    ) -> None:
        self._pubsub = pubsub
        self._prefix = prefix
        # SSUBSCRIBE on one cluster node (parley_common.sharded_bus), else SUBSCRIBE.
        self._subscribe = pubsub.ssubscribe if sharded else pubsub.subscribe
        self._unsubscribe = pubsub.sunsubscribe if sharded else pubsub.unsubscribe
        self._sharded = sharded
        self._on_lost = on_lost  # told when the connection broke or Redis dropped a channel
        self._wanted: set[str] = set()
        self._waiting: defaultdict[str, deque[asyncio.Future[None]]] = defaultdict(deque)
        self._behind = False  # some wanted channel may not be subscribed
        self._listening = False
        # Held by whoever reads the connection: the reader, or add() before anyone reads.
        self._read_lock = asyncio.Lock()
        self._early: deque[dict[str, Any]] = deque()  # read by add() before anyone iterated
        self._decode_cpu_s = 0.0

    @property
    def listening(self) -> bool:
        return self._listening

    @property
    def decode_cpu_s(self) -> float:
        return self._decode_cpu_s

    async def add(self, channel: str) -> bool:
        name = self._prefix + channel
        self._wanted.add(name)
        confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting = self._waiting[name]
        waiting.append(confirmed)
        try:
            await self._subscribe(name)
            if self._read_lock.locked():  # the reader will see the confirmation
                await asyncio.wait_for(asyncio.shield(confirmed), CONFIRM_WAIT_S)
            else:
                async with self._read_lock:
                    await asyncio.wait_for(self._pump(confirmed), CONFIRM_WAIT_S)
            return True
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("bus: could not subscribe to %s yet (%s)", channel, exc)
            self._behind = True
            return False
        finally:
            if confirmed in waiting:
                waiting.remove(confirmed)
            if not waiting:
                self._waiting.pop(name, None)

    async def remove(self, channel: str) -> None:
        name = self._prefix + channel
        self._wanted.discard(name)
        try:
            await self._unsubscribe(name)
        except (RedisError, OSError) as exc:
            # Not subscribed again when the connection comes back: redis-py forgot it.
            log.warning("bus: could not unsubscribe from %s (%s)", channel, exc)

    async def _pump(self, confirmed: asyncio.Future[None]) -> None:
        """Read until ``confirmed`` while nobody else reads, keeping what arrives for later."""
        while not confirmed.done():
            item = await self._pubsub.get_message(timeout=READ_WAIT_S)
            if item is None:
                continue
            if item.get("type") in _CONFIRMATIONS:
                self._confirmed(item["channel"])
            else:
                self._early.append(item)

    def forget(self, channel: str) -> None:
        """Stop wanting ``channel`` without telling Redis (its node is gone)."""
        self._wanted.discard(self._prefix + channel)

    def __aiter__(self) -> AsyncIterator[Envelope]:
        return self._read()

    async def _read(self) -> AsyncIterator[Envelope]:
        while True:
            item = self._early.popleft() if self._early else await self._next_item()
            envelope = self._envelope(item) if item is not None else None
            if envelope is not None:
                yield envelope

    async def _next_item(self) -> dict[str, Any] | None:
        response = await self._next_reply()
        if response is None:
            return None
        if isinstance(response, list) and len(response) == 3 and response[0] in _MESSAGE_REPLIES:
            # What handle_message would make of it, without its bookkeeping (which is for
            # (un)subscribe replies and handlers, and this subscription registers none).
            return {"type": "message", "channel": response[1], "data": response[2]}
        item: dict[str, Any] | None = await self._pubsub.handle_message(response)
        if item is None:
            return None
        kind = item.get("type")
        if kind in _CONFIRMATIONS:
            self._confirmed(item["channel"])
            return None
        if kind == "sunsubscribe" and self._on_lost is not None:
            # Not asked for (or asked for and wanted again): Redis Cluster drops the shard
            # channels of a slot that moved to another node.
            name = item["channel"].decode() if isinstance(item["channel"], bytes) else item["channel"]
            if name in self._wanted:
                self._on_lost()
            return None
        return item

    async def _next_reply(self) -> Any:
        """The connection's next reply as parsed (None: nothing came, or it broke)."""
        try:
            if self._behind:
                await self._catch_up()
            connection = self._pubsub.connection
            if connection is None:  # nothing subscribed yet
                await asyncio.sleep(RETRY_S)
                return None
            async with self._read_lock:
                # What is already buffered is read without a timeout (the rest of a message
                # cut across packets is on its way): a bounded read arms and cancels a timer
                # each time, a third of a small message's cost, and a commit batch on
                # per-room channels comes as several messages in one packet.
                buffered = connection.is_connected and await connection.can_read()
                response = await self._pubsub.parse_response(block=buffered, timeout=READ_WAIT_S)
        except (RedisError, OSError) as exc:
            if self._listening:
                log.warning("bus subscription interrupted (%s); subscribing again", exc)
            self._listening = False
            self._behind = True
            if self._on_lost is not None:
                self._on_lost()
            await asyncio.sleep(RETRY_S)
            return None
        self._listening = self._pubsub.subscribed
        return response

    def wants(self) -> set[str]:
        """The bus channels this subscription is meant to hold."""
        return {name.removeprefix(self._prefix) for name in self._wanted}

    def _envelope(self, item: dict[str, Any]) -> Envelope | None:
        if item.get("type") not in _MESSAGES:
            return None
        started = time.thread_time()
        channel = item["channel"]
        if isinstance(channel, bytes):
            channel = channel.decode()
        try:
            return channel.removeprefix(self._prefix), orjson.loads(item["data"])
        except orjson.JSONDecodeError:
            log.error("dropping a malformed bus message on %s", channel)
            return None
        finally:
            self._decode_cpu_s += time.thread_time() - started

    def _confirmed(self, channel: bytes | str) -> None:
        name = channel.decode() if isinstance(channel, bytes) else channel
        waiting = self._waiting.get(name)
        while waiting:
            future = waiting.popleft()
            if not future.done():
                future.set_result(None)
                return

    async def _catch_up(self) -> None:
        known = self._pubsub.shard_channels if self._sharded else self._pubsub.channels
        subscribed = {c.decode() if isinstance(c, bytes) else c for c in known}
        for name in [name for name in self._wanted if name not in subscribed]:
            await self._subscribe(name)  # one by one: an SSUBSCRIBE names channels of one slot
        self._behind = False

    async def close(self) -> None:
        self._listening = False
        await self._pubsub.aclose()
