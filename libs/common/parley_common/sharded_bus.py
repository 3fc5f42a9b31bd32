"""The bus on a Redis Cluster: sharded pub/sub (``SPUBLISH`` / ``SSUBSCRIBE``, Redis 7).

Plain pub/sub on a cluster sends every message to every node over the cluster bus, so the
cluster as a whole carries each message N times; a shard channel lives on the master that
owns its slot, and only that master (and its replicas) carry it. So each conversation's and
each user's channel lands on one shard, and adding shards adds bus capacity.

A subscriber holds one connection per master that owns some of its channels, each read
by its own task into one queue (one channel's messages come from one connection, so their
order is kept). When a connection breaks (the master died and a replica takes over) or
Redis drops shard channels (their slot moved), the cluster's slot map is read again and
every channel whose owner changed is subscribed on its new master; until then the
gateway misses that room's live events, which clients recover by seq sync.

redis-py's own ``ClusterPubSub`` polls its node connections one after the other, each with
the read timeout, so a message on the third node could wait two timeouts; hence this.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisError, SlotNotCoveredError

from parley_common.bus import RETRY_S, Envelope, Subscription, _RedisSubscription, _subscribed, encoded

log = logging.getLogger(__name__)


class ShardedRedisBus:
    """:class:`parley_common.bus.RedisBus`'s interface on a Redis Cluster."""

    def __init__(self, cluster: RedisCluster, *, prefix: str) -> None:
        self._cluster = cluster
        self._prefix = f"{prefix}:bus:"

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        await self._cluster.spublish(self._prefix + channel, orjson.dumps(payload))

    async def publish_many(self, messages: Sequence[Envelope]) -> None:
        if len(messages) == 1:
            await self.publish(*messages[0])
            return
        # Grouped by node, in order within each: a channel's messages keep their order.
        # (Not RedisBus's script: a script's channels would all have to live on one node.)
        async with self._cluster.pipeline(transaction=False) as pipe:
            for name, data in encoded(self._prefix, messages):
                pipe.spublish(name, data)
            await pipe.execute()

    @asynccontextmanager
    async def listen(self) -> AsyncIterator[Subscription]:
        subscription = ShardedSubscription(self._cluster, self._prefix)
        try:
            yield subscription
        finally:
            await subscription.close()

    def subscribe(self, *channels: str) -> AbstractAsyncContextManager[AsyncIterator[Envelope]]:
        return _subscribed(self, channels)


class _NodePubSub(PubSub):
    """redis-py subscribes again to all shard channels in one SSUBSCRIBE when a connection
    comes back, which a cluster node refuses (CROSSSLOT) once they span slots: one by one."""

    async def _resubscribe_shard_channels(self) -> None:
        for channel in list(self.shard_channels):
            await self.ssubscribe(channel)


class _Link:
    """This subscriber's connection to one master, and the task reading it."""

    def __init__(self, node: ClusterNode, prefix: str, queue: asyncio.Queue[Envelope], on_lost: Any) -> None:
        self.node_name = node.name
        self._pool = aioredis.ConnectionPool(connection_class=node.connection_class, **node.connection_kwargs)
        pool = self._pool
        self.subscription = _RedisSubscription(
            _NodePubSub(connection_pool=pool), prefix, sharded=True, on_lost=on_lost
        )
        self._reader = asyncio.create_task(self._read(queue), name=f"bus-{node.name}")

    async def _read(self, queue: asyncio.Queue[Envelope]) -> None:
        async for envelope in self.subscription:
            queue.put_nowait(envelope)

    async def close(self) -> None:
        self._reader.cancel()
        with suppress(asyncio.CancelledError):
            await self._reader
        with suppress(RedisError, OSError):
            await self.subscription.close()
        await self._pool.disconnect()


class ShardedSubscription:
    def __init__(self, cluster: RedisCluster, prefix: str) -> None:
        self._cluster = cluster
        self._prefix = prefix
        self._queue: asyncio.Queue[Envelope] = asyncio.Queue()
        self._links: dict[str, _Link] = {}  # node name -> link
        self._owner: dict[str, str] = {}  # bus channel -> the node it is subscribed on
        self._rerouting: asyncio.Task[None] | None = None
        self._closed_cpu_s = 0.0

    @property
    def listening(self) -> bool:
        return bool(self._links) and all(link.subscription.listening for link in self._links.values())

    @property
    def decode_cpu_s(self) -> float:
        return self._closed_cpu_s + sum(link.subscription.decode_cpu_s for link in self._links.values())

    def _node_of(self, channel: str) -> ClusterNode:
        node = self._cluster.get_node_from_key(self._prefix + channel)
        if node is None:
            raise SlotNotCoveredError(f"no master serves {channel} now")
        return node

    def _link(self, node: ClusterNode) -> _Link:
        link = self._links.get(node.name)
        if link is None:
            link = _Link(node, self._prefix, self._queue, self._lost)
            self._links[node.name] = link
        return link

    async def add(self, channel: str) -> bool:
        try:
            node = self._node_of(channel)
        except RedisError as exc:  # no master for that slot right now
            log.warning("bus: no node for %s yet (%s)", channel, exc)
            self._owner[channel] = ""
            self._lost()
            return False
        self._owner[channel] = node.name
        return await self._link(node).subscription.add(channel)

    async def remove(self, channel: str) -> None:
        owner = self._owner.pop(channel, None)
        link = self._links.get(owner or "")
        if link is not None:
            await link.subscription.remove(channel)

    def __aiter__(self) -> AsyncIterator[Envelope]:
        return self._read()

    async def _read(self) -> AsyncIterator[Envelope]:
        while True:
            yield await self._queue.get()

    def _lost(self) -> None:
        if self._rerouting is None:
            self._rerouting = asyncio.get_running_loop().create_task(self._reroute(), name="bus-reroute")

    async def _reroute(self) -> None:
        """Until every channel is on its master's live connection: read the slot map again
        and move the channels whose master changed."""
        try:
            while True:
                await asyncio.sleep(RETRY_S)
                try:
                    await self._cluster.nodes_manager.initialize()
                    await self._move_channels()
                except (RedisError, OSError) as exc:
                    log.warning("bus: the cluster's slot map is not readable yet (%s)", exc)
                    continue
                if self.listening:
                    return
        finally:
            self._rerouting = None

    async def _move_channels(self) -> None:
        for channel, owner in list(self._owner.items()):
            node = self._node_of(channel)
            if node.name == owner:
                continue
            log.info("bus: %s moved from %s to %s", channel, owner or "nowhere", node.name)
            old = self._links.get(owner)
            if old is not None and old.subscription.listening:
                await old.subscription.remove(channel)
            elif old is not None:
                old.subscription.forget(channel)  # a dead node: asking it would only time out
            self._owner[channel] = node.name
            await self._link(node).subscription.add(channel)
        for name, link in list(self._links.items()):
            if not link.subscription.wants():
                del self._links[name]
                self._closed_cpu_s += link.subscription.decode_cpu_s
                await link.close()

    async def close(self) -> None:
        if self._rerouting is not None:
            self._rerouting.cancel()
            with suppress(asyncio.CancelledError):
                await self._rerouting
        for link in self._links.values():
            await link.close()
        self._links.clear()
