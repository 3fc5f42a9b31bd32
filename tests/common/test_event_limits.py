"""The per-user limits on client events other than sends (parley_common.event_limits), on a
frozen clock: in memory and on the real Redis, one limiter (one gateway) and two sharing it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from parley_common.config import EventLimitSettings, load_settings
from parley_common.event_limits import (
    LEASE_TTL_S,
    EventKind,
    EventLimit,
    EventLimiter,
    MemoryBucket,
    RedisBucket,
)

LIMIT = EventLimit(rate=10, burst=20)  # leases of 5
LIMITS = {kind: LIMIT for kind in EventKind}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Counting:
    """A bucket that counts the calls it gets, around a real one."""

    def __init__(self, bucket: Any) -> None:
        self.bucket = bucket
        self.calls = 0

    async def take(self, key: str, limit: EventLimit, want: int, now_ms: int) -> tuple[int, int]:
        self.calls += 1
        await asyncio.sleep(0)  # a round trip: others may come meanwhile
        granted: tuple[int, int] = await self.bucket.take(key, limit, want, now_ms)
        return granted


class Broken:
    async def take(self, key: str, limit: EventLimit, want: int, now_ms: int) -> tuple[int, int]:
        raise ConnectionError("Redis is down")


@pytest.fixture(params=["memory", "redis"])
async def bucket(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield MemoryBucket()
        return
    redis_url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield RedisBucket(client, f"{prefix}:")
    finally:
        await client.aclose()


async def test_a_burst_then_the_rate(bucket: Any) -> None:
    clock = Clock()
    limiter = EventLimiter(bucket, LIMITS, clock=clock)
    waits = [await limiter.take("alice", EventKind.SYNC) for _ in range(LIMIT.burst + 1)]
    assert waits[: LIMIT.burst] == [0] * LIMIT.burst
    assert waits[-1] > 0  # ms until the next token: 100 at 10 per second, give or take a lease
    assert waits[-1] <= 1000 / LIMIT.rate + 1
    clock.now += 1.0  # ten tokens more
    assert [await limiter.take("alice", EventKind.SYNC) for _ in range(10)] == [0] * 10
    assert await limiter.take("alice", EventKind.SYNC) > 0


async def test_users_and_kinds_have_buckets_of_their_own(bucket: Any) -> None:
    limiter = EventLimiter(bucket, LIMITS, clock=Clock())
    for _ in range(LIMIT.burst):
        assert await limiter.take("alice", EventKind.SYNC) == 0
    assert await limiter.take("alice", EventKind.SYNC) > 0
    assert await limiter.take("alice", EventKind.TYPING) == 0
    assert await limiter.take("bob", EventKind.SYNC) == 0


async def test_two_gateways_share_one_bucket(bucket: Any) -> None:
    clock = Clock()
    gateways = [EventLimiter(bucket, LIMITS, clock=clock) for _ in range(2)]
    waits = [await gateways[i % 2].take("alice", EventKind.ROOM) for i in range(3 * LIMIT.burst)]
    assert waits.count(0) == LIMIT.burst  # not one burst per gateway


async def test_events_that_arrive_together_share_one_lease(bucket: Any) -> None:
    counting = Counting(bucket)
    limiter = EventLimiter(counting, LIMITS, clock=Clock())
    waits = await asyncio.gather(*(limiter.take("alice", EventKind.RECEIPT) for _ in range(LIMIT.burst)))
    assert waits == [0] * LIMIT.burst  # the whole burst, not one event per lease
    assert counting.calls == LIMIT.burst // LIMIT.lease
    refused = await asyncio.gather(*(limiter.take("alice", EventKind.RECEIPT) for _ in range(10)))
    assert all(wait > 0 for wait in refused)
    assert counting.calls == LIMIT.burst // LIMIT.lease + 1  # the refusal is remembered


async def test_what_a_lease_has_not_spent_is_dropped(bucket: Any) -> None:
    clock = Clock()
    counting = Counting(bucket)
    limiter = EventLimiter(counting, LIMITS, clock=clock)
    assert await limiter.take("alice", EventKind.SYNC) == 0  # a lease of 5: 4 left
    clock.now += LEASE_TTL_S
    assert await limiter.take("alice", EventKind.SYNC) == 0
    assert counting.calls == 2  # the 4 left were not spent a lease later


async def test_an_outage_lets_events_through() -> None:
    limiter = EventLimiter(Broken(), LIMITS, clock=Clock())
    assert [await limiter.take("alice", EventKind.SYNC) for _ in range(3 * LIMIT.burst)] == [0] * 60


async def test_forgotten_buckets_and_leases_are_pruned() -> None:
    clock = Clock()
    memory = MemoryBucket()
    limiter = EventLimiter(memory, LIMITS, clock=clock)
    for user in range(50):
        assert await limiter.take(f"user-{user}", EventKind.SYNC) == 0
    clock.now += 60
    assert await limiter.take("last", EventKind.SYNC) == 0
    assert set(limiter._leases) == {("last", EventKind.SYNC)}
    assert set(memory._state) == {"sync:last"}


def test_limits_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_SYNC", "2.5, 7")
    settings = load_settings(EventLimitSettings)
    assert settings.event_limits()[EventKind.SYNC] == EventLimit(rate=2.5, burst=7)
    assert settings.event_limits()[EventKind.TYPING] == EventLimit(rate=5, burst=20)
    for bad in ("10", "10,0", "0,10", "ten,10", "10,10,10"):
        monkeypatch.setenv("RATE_LIMIT_SYNC", bad)
        with pytest.raises(Exception, match="RATE_LIMIT_SYNC"):
            load_settings(EventLimitSettings)
