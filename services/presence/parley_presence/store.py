"""Presence state: in Redis (production) or in memory (the embedded default).

Both stores implement the same transitions (see :mod:`parley_presence.service` for the
policy) and publish each one as a room event. The Redis store does it in Lua scripts
(:mod:`parley_presence.scripts`), atomically with the state change and fenced by the
leader lease; the memory store has one process and one leader by construction.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

import orjson

from parley_common.bus import Bus, RedisBus
from parley_common.channels import Router, conversation_channel
from parley_common.events import ROOM_EVENTS, RoomEvent
from parley_common.presence import JOIN, PresenceKeys, PresenceReport
from parley_common.redis_client import RedisClient
from parley_presence import scripts

NOT_LEADER = -1
CAME_ONLINE = 1
EXPIRE_BATCH = 500


class PresenceStore(Protocol):
    async def lead(self, me: str, ttl_ms: int) -> bool:
        """Take or renew the leader lease; only the leader changes state."""
        ...

    async def apply(self, me: str, report: PresenceReport, *, due_ms: int, at: str) -> int: ...

    async def expire_due(self, me: str, *, now_ms: int, at: str) -> int: ...

    async def dead_gateways(self) -> list[str]: ...

    async def reap(self, me: str, gateway: str, *, due_ms: int) -> int: ...

    async def online_users(self, conversation_id: str, user_ids: Iterable[str]) -> set[str]: ...


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def gateway_entry(report: PresenceReport) -> str:
    """How a gateway's socket is indexed for reaping (decoded by the REAP script)."""
    return orjson.dumps([report.conversation, report.user, report.socket]).decode()


class RedisPresenceStore:
    def __init__(
        self, client: RedisClient, *, prefix: str, router: Router | None = None, outbox: Bus | None = None
    ) -> None:
        """``outbox``: on a Redis Cluster, the bus the scripts' announcements are published
        on after each call (a script there cannot reach a shard channel of another slot)."""
        self._redis = client
        self._keys = PresenceKeys(prefix)
        self._router = router or Router()
        self._outbox = outbox
        self._draining = asyncio.Lock()
        if outbox is not None:
            self._mode, self._channel = "outbox", self._keys.outbox
        elif self._router.per_room:
            self._mode, self._channel = "1", RedisBus.channel_name(prefix, conversation_channel(""))
        else:
            self._mode, self._channel = "0", RedisBus.channel_name(prefix, ROOM_EVENTS)
        self._apply = client.register_script(scripts.APPLY)
        self._expire = client.register_script(scripts.EXPIRE)
        self._reap = client.register_script(scripts.REAP)
        self._lead = client.register_script(scripts.LEAD)

    async def lead(self, me: str, ttl_ms: int) -> bool:
        leading = bool(await self._lead(keys=[self._keys.leader], args=[me, ttl_ms]))
        if leading:
            await self.publish_outbox()  # what a leader that crashed mid-way left
        return leading

    async def apply(self, me: str, report: PresenceReport, *, due_ms: int, at: str) -> int:
        keys = self._keys
        result = await self._apply(
            keys=[
                keys.leader,
                keys.sockets(report.conversation, report.user),
                keys.online(report.conversation),
                keys.pending,
                keys.gateway_sockets(report.gateway),
                keys.gateways,
                keys.outbox,
            ],
            args=[
                me,
                report.kind,
                report.socket,
                report.user,
                report.conversation,
                due_ms,
                at,
                self._channel,
                gateway_entry(report),
                report.gateway,
                self._mode,
            ],
        )
        if int(result) == CAME_ONLINE:
            await self.publish_outbox()
        return int(result)

    async def expire_due(self, me: str, *, now_ms: int, at: str) -> int:
        keys = [self._keys.leader, self._keys.pending, self._keys.outbox]
        args: list[str | int] = [me, now_ms, at, self._channel, self._keys.base, EXPIRE_BATCH, self._mode]
        announced = int(await self._expire(keys=keys, args=args))
        if announced > 0:
            await self.publish_outbox()
        return announced

    async def publish_outbox(self) -> None:
        """Publish what the scripts left in the outbox, then drop it (Redis Cluster only;
        also at each lease renewal, so what a crashed leader left goes out with the next)."""
        if self._outbox is None:
            return
        async with self._draining:  # one drain at a time, or two would publish the same
            while entries := await self._redis.lrange(self._keys.outbox, 0, EXPIRE_BATCH - 1):
                events = [orjson.loads(entry) for entry in entries]
                await self._outbox.publish_many([(self._router.channel_of(e), e) for e in events])
                await self._redis.ltrim(self._keys.outbox, len(entries), -1)

    async def dead_gateways(self) -> list[str]:
        members: Any = await self._redis.smembers(self._keys.gateways)
        gateways = [_text(g) for g in members]
        if not gateways:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for gateway in gateways:
                pipe.exists(self._keys.alive(gateway))
            alive = await pipe.execute()
        return [g for g, is_alive in zip(gateways, alive, strict=True) if not is_alive]

    async def reap(self, me: str, gateway: str, *, due_ms: int) -> int:
        keys = [
            self._keys.leader,
            self._keys.gateway_sockets(gateway),
            self._keys.gateways,
            self._keys.pending,
        ]
        return int(await self._reap(keys=keys, args=[me, gateway, due_ms, self._keys.base]))

    async def online_users(self, conversation_id: str, user_ids: Iterable[str]) -> set[str]:
        members: Any = await self._redis.smembers(self._keys.online(conversation_id))
        return {_text(m) for m in members}.intersection(user_ids)


class MemoryPresenceStore:
    """The same transitions for one process; announcements go on the in-process bus."""

    def __init__(self, bus: Bus, router: Router | None = None) -> None:
        self._bus = bus
        self._router = router or Router()
        self._sockets: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
        self._online: defaultdict[str, set[str]] = defaultdict(set)
        self._pending: dict[tuple[str, str], int] = {}

    async def lead(self, me: str, ttl_ms: int) -> bool:
        return True

    async def apply(self, me: str, report: PresenceReport, *, due_ms: int, at: str) -> int:
        key = (report.conversation, report.user)
        sockets = self._sockets[key]
        if report.kind == JOIN:
            if report.socket in sockets:
                return 0
            sockets.add(report.socket)
            if self._pending.pop(key, None) is not None:
                return 0  # back within the grace period
            if report.user in self._online[report.conversation]:
                return 0
            self._online[report.conversation].add(report.user)
            await self._announce("user:online", key, at)
            return CAME_ONLINE
        if report.socket not in sockets:
            return 0
        sockets.discard(report.socket)
        if sockets:
            return 0
        del self._sockets[key]
        self._pending.setdefault(key, due_ms)
        return 2

    async def expire_due(self, me: str, *, now_ms: int, at: str) -> int:
        due = [key for key, when in self._pending.items() if when <= now_ms]
        announced = 0
        for key in due:
            del self._pending[key]
            conversation, user = key
            if not self._sockets.get(key) and user in self._online[conversation]:
                self._online[conversation].discard(user)
                await self._announce("user:offline", key, at)
                announced += 1
        return announced

    async def dead_gateways(self) -> list[str]:
        return []

    async def reap(self, me: str, gateway: str, *, due_ms: int) -> int:
        return 0

    async def online_users(self, conversation_id: str, user_ids: Iterable[str]) -> set[str]:
        return self._online.get(conversation_id, set()).intersection(user_ids)

    async def _announce(self, event: str, key: tuple[str, str], at: str) -> None:
        conversation, user = key
        data = {"conversationId": conversation, "userId": user, "at": at}
        announcement = RoomEvent(conversation_id=conversation, event=event, data=data).model_dump()
        await self._bus.publish(self._router.channel_of(announcement), announcement)
