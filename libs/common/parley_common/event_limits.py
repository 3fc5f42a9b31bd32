"""Per-user rate limits on the client events other than sends: syncs, joins and leaves,
typing, receipts (sends have their own sliding window, counted in the database with them:
:mod:`parley_messages.send_store`).

Policy: one token bucket per user and kind of event (:class:`EventKind`), shared by every
gateway (in Redis; in this process for the embedded default). A bucket holds up to
``burst`` events and refills at ``rate`` per second; an event that finds it empty is
refused ``rate_limited`` with the milliseconds until the next token. Bursts are generous
on purpose: a client that reconnects joins and syncs every conversation it shows at once.

A Redis round trip per receipt or keystroke would cost more than the event itself, so a
gateway takes tokens in leases of up to a quarter of the burst (:meth:`EventLimiter.take`
draws on its lease first) and spends them locally; events that arrive together wait for one
lease, and a refusal is remembered until its wait is over. What a lease has not spent within
:data:`LEASE_TTL_S` is dropped, never saved for later, so the shared bucket still bounds a
user on every gateway together: over any span T, at most ``burst + rate * (T + LEASE_TTL_S)``
events of a kind. If Redis is down, events are let through (fail open, one warning per
interval), as sends are: an outage of the limiter must not stop every conversation.

Times come from the caller's clock (``time.time`` by default; tests pass their own).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from parley_common.redis_client import RedisClient

log = logging.getLogger(__name__)

LEASE_TTL_S = 1.0
OUTAGE_LOG_INTERVAL_S = 10.0
_PRUNE_EVERY_S = 30.0

# KEYS[1]: the bucket (a hash: tokens, at). ARGV: burst, refill per ms, now (ms), tokens wanted.
# Returns {granted, ms to wait when none was granted}.
_TAKE = """
local burst, rate, now, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = burst
if state[1] then
  tokens = math.min(burst, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * rate)
end
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
local wait = 0
if granted == 0 then wait = math.ceil((1 - tokens) / rate) end
return {granted, wait}
"""


class EventKind(StrEnum):
    SYNC = "sync"  # messages:sync (and the HTTP message list)
    ROOM = "room"  # conversation:join, conversation:leave
    TYPING = "typing"  # typing:start
    RECEIPT = "receipt"  # message:delivered, message:read


@dataclass(frozen=True, slots=True)
class EventLimit:
    rate: float  # tokens added per second
    burst: int  # most tokens a bucket holds

    @property
    def lease(self) -> int:
        return max(1, self.burst // 4)


class _Bucket(Protocol):
    async def take(self, key: str, limit: EventLimit, want: int, now_ms: int) -> tuple[int, int]:
        """Take up to ``want`` tokens: (how many were granted, ms to wait if none)."""
        ...


@dataclass(slots=True)
class _Lease:
    tokens: int  # left to spend
    until: float  # when what is left is dropped
    at: float  # when it was granted
    refused_for_ms: int  # 0, or how long the bucket said to wait when it granted nothing


class EventLimiter:
    def __init__(
        self,
        bucket: _Bucket,
        limits: Mapping[EventKind, EventLimit],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._bucket = bucket
        self._limits = dict(limits)
        self._clock = clock
        self._leases: dict[tuple[str, EventKind], _Lease] = {}
        self._asking: dict[tuple[str, EventKind], asyncio.Future[None]] = {}
        self._pruned_at = clock()
        self._outage_logged_at = -math.inf

    @classmethod
    def in_memory(
        cls, limits: Mapping[EventKind, EventLimit], *, clock: Callable[[], float] = time.time
    ) -> EventLimiter:
        return cls(MemoryBucket(), limits, clock=clock)

    @classmethod
    def redis(
        cls,
        client: RedisClient,
        limits: Mapping[EventKind, EventLimit],
        *,
        prefix: str,
        clock: Callable[[], float] = time.time,
    ) -> EventLimiter:
        """On the process's own Redis client (its connection pool)."""
        return cls(RedisBucket(client, f"{prefix}:ratelimit:event:"), limits, clock=clock)

    async def take(self, user_id: str, kind: EventKind) -> int:
        """Spend one event of ``kind`` for ``user_id``: 0 when allowed, else ms to wait."""
        key = (user_id, kind)
        while True:
            now = self._clock()
            lease = self._leases.get(key)
            if lease is not None and now < lease.until:
                if lease.tokens > 0:
                    lease.tokens -= 1
                    return 0
                if lease.refused_for_ms:
                    return max(1, lease.refused_for_ms - int((now - lease.at) * 1000))
            asking = self._asking.get(key)
            if asking is None:
                return await self._ask(key, now)
            # Events that arrive together wait for one lease rather than each asking for its
            # own (which would drain the bucket a lease at a time for one event each).
            await asyncio.shield(asking)

    async def _ask(self, key: tuple[str, EventKind], now: float) -> int:
        """Ask the bucket for a lease, spend one token of it: 0, or the ms to wait."""
        asked = asyncio.get_running_loop().create_future()
        self._asking[key] = asked
        user_id, kind = key
        limit = self._limits[kind]
        try:
            granted, wait_ms = await self._bucket.take(
                f"{kind}:{user_id}", limit, limit.lease, int(now * 1000)
            )
        except Exception:
            self._log_outage()
            granted, wait_ms = 1, 0
        finally:
            del self._asking[key]
            asked.set_result(None)
        if now - self._pruned_at >= _PRUNE_EVERY_S:
            self._prune(now)
        # A refusal is a lease too, of no tokens: who comes before the wait is over is refused
        # without asking again.
        until = now + (LEASE_TTL_S if granted else wait_ms / 1000)
        self._leases[key] = _Lease(tokens=max(0, granted - 1), until=until, at=now, refused_for_ms=wait_ms)
        return 0 if granted else max(1, wait_ms)

    def _prune(self, now: float) -> None:
        # Forget spent and expired leases, or the map grows with every user ever seen.
        self._pruned_at = now
        for key in [k for k, lease in self._leases.items() if now >= lease.until]:
            del self._leases[key]

    def _log_outage(self) -> None:
        now = time.monotonic()
        if now - self._outage_logged_at >= OUTAGE_LOG_INTERVAL_S:
            self._outage_logged_at = now
            log.warning("event rate limit store unavailable; letting events through", exc_info=True)


class RedisBucket:
    def __init__(self, client: RedisClient, key_prefix: str) -> None:
        self._key_prefix = key_prefix
        self._take = client.register_script(_TAKE)

    async def take(self, key: str, limit: EventLimit, want: int, now_ms: int) -> tuple[int, int]:
        granted, wait = await self._take(
            keys=[self._key_prefix + key], args=[limit.burst, limit.rate / 1000, now_ms, want]
        )
        return int(granted), int(wait)


class MemoryBucket:
    """The same buckets in this process (the embedded default)."""

    def __init__(self) -> None:
        # key -> (tokens, when they were counted, when the bucket is full again), in ms
        self._state: dict[str, tuple[float, int, float]] = {}
        self._pruned_at_ms = 0

    async def take(self, key: str, limit: EventLimit, want: int, now_ms: int) -> tuple[int, int]:
        if now_ms - self._pruned_at_ms >= _PRUNE_EVERY_S * 1000:
            self._prune(now_ms)
        rate_ms = limit.rate / 1000
        tokens, at, _ = self._state.get(key, (float(limit.burst), now_ms, now_ms))
        tokens = min(float(limit.burst), tokens + max(0, now_ms - at) * rate_ms)
        granted = min(want, math.floor(tokens))
        tokens -= granted
        self._state[key] = (tokens, now_ms, now_ms + (limit.burst - tokens) / rate_ms)
        wait = 0 if granted else math.ceil((1 - tokens) / rate_ms)
        return granted, wait

    def _prune(self, now_ms: int) -> None:
        # A bucket that has refilled is the same as no bucket: forget it, or the map grows
        # with every user ever seen.
        self._pruned_at_ms = now_ms
        for key in [k for k, (_, _, full_at) in self._state.items() if now_ms >= full_at]:
            del self._state[key]
