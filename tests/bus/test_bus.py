"""Both bus implementations deliver what is published to every subscriber, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from parley_common import bus as bus_module
from parley_common.bus import Bus, InProcessBus, RedisBus


@pytest.fixture(params=["in-process", "redis"])
async def bus(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Bus]:
    if request.param == "in-process":
        yield InProcessBus()
        return
    url: str = request.getfixturevalue("redis_url")
    client = aioredis.Redis.from_url(url)
    try:
        yield RedisBus(client, prefix=redis_prefix)
    finally:
        await client.aclose()


async def test_every_subscriber_gets_every_event_in_order(bus: Bus) -> None:
    async with bus.subscribe("room-events") as first, bus.subscribe("room-events", "other") as second:
        for n in range(5):
            await bus.publish("room-events", {"n": n})
        await bus.publish("other", {"n": "x"})
        for events, expected in ((first, 5), (second, 6)):
            got = [await asyncio.wait_for(anext(events), timeout=5) for _ in range(expected)]
            assert [payload["n"] for _, payload in got[:5]] == [0, 1, 2, 3, 4]
        assert got[5] == ("other", {"n": "x"})


async def test_channels_are_separate(bus: Bus) -> None:
    async with bus.subscribe("a") as events:
        await bus.publish("b", {"skip": True})
        await bus.publish("a", {"take": True})
        assert await asyncio.wait_for(anext(events), timeout=5) == ("a", {"take": True})


def test_the_shard_resubscribe_override_still_has_a_target() -> None:
    """parley_common.sharded_bus._NodePubSub overrides this redis-py method (one SSUBSCRIBE per
    channel on reconnect): a redis-py that renamed it would silently bring CROSSSLOT back."""
    from redis.asyncio.client import PubSub

    from parley_common.sharded_bus import _NodePubSub

    assert callable(getattr(PubSub, "_resubscribe_shard_channels", None))
    assert _NodePubSub._resubscribe_shard_channels is not PubSub._resubscribe_shard_channels


async def test_publish_many_keeps_order_across_channels_and_slices(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit batch goes out as one call per slice (RedisBus's script): every message arrives,
    each channel's in the order given, whatever the slicing."""
    monkeypatch.setattr(bus_module, "SCRIPT_SLICE", 3)
    messages = [("a" if n % 3 else "b", {"n": n}) for n in range(10)]
    async with bus.subscribe("a", "b") as events:
        await bus.publish_many(messages)
        got = [await asyncio.wait_for(anext(events), timeout=5) for _ in messages]
    for channel in ("a", "b"):
        assert [p["n"] for c, p in got if c == channel] == [p["n"] for c, p in messages if c == channel]
