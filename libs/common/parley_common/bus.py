"""The bus: fire-and-forget pub/sub between services.

Two implementations behind one interface: :class:`InProcessBus` for the embedded default
(one process) and :class:`RedisBus` for everything else. Payloads are JSON objects.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

Envelope = tuple[str, dict[str, Any]]


class Bus(Protocol):
    async def publish(self, channel: str, payload: dict[str, Any]) -> None: ...

    def subscribe(self, *channels: str) -> Any:
        """An async context manager yielding an async iterator of (channel, payload)."""
        ...


class InProcessBus:
    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[Envelope]]] = defaultdict(set)

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        for queue in self._queues.get(channel, ()):
            queue.put_nowait((channel, payload))

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[AsyncIterator[Envelope]]:
        queue: asyncio.Queue[Envelope] = asyncio.Queue()
        for channel in channels:
            self._queues[channel].add(queue)
        try:
            yield _drain(queue)
        finally:
            for channel in channels:
                self._queues[channel].discard(queue)


async def _drain(queue: asyncio.Queue[Envelope]) -> AsyncIterator[Envelope]:
    while True:
        yield await queue.get()


class RedisBus:
    """Redis pub/sub; channels are namespaced by ``prefix`` so deployments can share a server."""

    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self._redis = client
        self._prefix = self.channel_name(prefix, "")

    @staticmethod
    def channel_name(prefix: str, channel: str) -> str:
        """The Redis channel of a bus channel (for publishers outside this class, e.g. Lua)."""
        return f"{prefix}:bus:{channel}"

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        await self._redis.publish(self._prefix + channel, orjson.dumps(payload))

    @asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[AsyncIterator[Envelope]]:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(*(self._prefix + c for c in channels))
        try:
            early = await _confirmed(pubsub, len(set(channels)))
            yield self._listen(pubsub, early)
        finally:
            await pubsub.aclose()

    async def _listen(self, pubsub: Any, early: list[dict[str, Any]]) -> AsyncIterator[Envelope]:
        while True:
            try:
                # A bounded wait, not timeout=None: the pool's socket_timeout would cut a blocking read.
                item = early.pop(0) if early else await pubsub.get_message(timeout=1.0)
            except RedisError as exc:
                # redis-py re-subscribes on reconnect; back off so an outage is not a hot loop.
                log.warning("bus subscription interrupted: %s", exc)
                await asyncio.sleep(0.5)
                continue
            if item is None or item.get("type") != "message":
                continue
            channel = item["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            try:
                payload = orjson.loads(item["data"])
            except orjson.JSONDecodeError:
                log.error("dropping a malformed bus message on %s", channel)
                continue
            yield channel.removeprefix(self._prefix), payload


async def _confirmed(pubsub: Any, count: int) -> list[dict[str, Any]]:
    """Wait until Redis has confirmed every subscription: only then is nothing missed.

    Returns the messages that arrived meanwhile, for the listener to hand out first.
    """
    confirmed, early = 0, []
    while confirmed < count:
        item = await pubsub.get_message(timeout=5.0)
        if item is None:
            raise TimeoutError("Redis did not confirm the bus subscription")
        if item.get("type") == "subscribe":
            confirmed += 1
        else:
            early.append(item)
    return early
