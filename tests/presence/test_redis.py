"""Redis-only presence duties: reaping dead gateways, one leader among replicas, reports
that survive a crash of the replica reading them, rebuilding after Redis lost its data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from parley_common.bus import RedisBus
from parley_common.channels import conversation_channel
from parley_common.events import ROOM_EVENTS
from parley_common.presence import JOIN, LEAVE, RESET, PresenceKeys, PresenceReport, RedisReportSink
from parley_presence.reports import RedisReportSource
from parley_presence.service import PresenceService
from parley_presence.store import NOT_LEADER, RedisPresenceStore
from tests.presence.conftest import GRACE_MS, Clock


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


class Heard:
    def __init__(self) -> None:
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def until_marker(self, bus: RedisBus) -> list[tuple[str, str]]:
        await bus.publish(ROOM_EVENTS, {"event": "__marker__"})
        seen = []
        while (event := await asyncio.wait_for(self.events.get(), 5))["event"] != "__marker__":
            seen.append((event["event"], event["data"]["userId"]))
        return seen


@pytest.fixture
async def heard(client: aioredis.Redis, redis_prefix: str) -> AsyncIterator[tuple[Heard, RedisBus]]:
    bus = RedisBus(client, prefix=redis_prefix)
    listener = Heard()
    async with bus.subscribe(ROOM_EVENTS, conversation_channel("conversation-1")) as events:

        async def listen() -> None:
            async for _, event in events:
                listener.events.put_nowait(event)

        task = asyncio.create_task(listen())
        yield listener, bus
        task.cancel()


def replica(
    client: aioredis.Redis, prefix: str, name: str, clock: Clock
) -> tuple[PresenceService, RedisReportSource]:
    source = RedisReportSource(client, prefix=prefix, consumer=name)
    store = RedisPresenceStore(client, prefix=prefix)
    return PresenceService(store=store, source=source, me=name, grace_ms=GRACE_MS, clock=clock), source


def report(kind: str, user: str, socket: str, gateway: str = "g1") -> PresenceReport:
    return PresenceReport(kind, gateway, socket, user, "conversation-1")


async def test_a_dead_gateways_sockets_are_reaped(
    client: aioredis.Redis, redis_prefix: str, heard: tuple[Heard, RedisBus]
) -> None:
    listener, bus = heard
    clock = Clock()
    service, source = replica(client, redis_prefix, "r1", clock)
    await source.ensure_group()
    sink = RedisReportSink(client, prefix=redis_prefix)
    await sink.alive("alive-gw", 60_000)
    await sink.alive("doomed-gw", 60_000)
    await sink.write(
        [
            report(JOIN, "alice", "a1", gateway="alive-gw"),
            report(JOIN, "alice", "a2", gateway="doomed-gw"),
            report(JOIN, "bob", "b1", gateway="doomed-gw"),
        ]
    )
    await service.step(block_ms=10)
    assert sorted(await listener.until_marker(bus)) == [("user:online", "alice"), ("user:online", "bob")]

    await client.delete(PresenceKeys(redis_prefix).alive("doomed-gw"))  # its heartbeat lapsed
    clock.advance(5_000)  # past the reap interval
    await service.step(block_ms=10)
    clock.advance(GRACE_MS)
    await service.step(block_ms=10)

    assert await listener.until_marker(bus) == [("user:offline", "bob")]  # alice has a live device
    assert await service._store.dead_gateways() == []


async def test_a_reset_replaces_a_gateways_sockets_without_flicker(
    client: aioredis.Redis, redis_prefix: str, heard: tuple[Heard, RedisBus]
) -> None:
    listener, bus = heard
    clock = Clock()
    service, source = replica(client, redis_prefix, "r1", clock)
    await source.ensure_group()
    sink = RedisReportSink(client, prefix=redis_prefix)
    assert not await sink.alive("g1", 60_000)  # a key that was not there: nothing to keep
    assert await sink.alive("g1", 60_000)
    await sink.write([report(JOIN, "alice", "a1"), report(JOIN, "bob", "b1")])
    await service.step(block_ms=10)
    assert sorted(await listener.until_marker(bus)) == [("user:online", "alice"), ("user:online", "bob")]

    # The gateway reports everything again: only alice's socket is left (bob's leave was lost).
    await sink.write([PresenceReport(RESET, "g1"), report(JOIN, "alice", "a1")])
    await service.step(block_ms=10)
    clock.advance(GRACE_MS)
    await service.step(block_ms=10)

    assert await listener.until_marker(bus) == [("user:offline", "bob")]  # and nothing about alice
    assert await service._store.online_users("conversation-1", ["alice", "bob"]) == {"alice"}


async def test_a_lost_report_group_is_created_again(
    client: aioredis.Redis, redis_prefix: str, heard: tuple[Heard, RedisBus]
) -> None:
    listener, bus = heard
    service, source = replica(client, redis_prefix, "r1", Clock())
    await source.ensure_group()
    sink = RedisReportSink(client, prefix=redis_prefix)
    await sink.alive("g1", 60_000)
    await client.delete(PresenceKeys(redis_prefix).reports)  # what a restart of Redis does to it

    await service.step(block_ms=10)  # NOGROUP: the group is created again, no round fails
    await sink.write([report(JOIN, "carol", "c1")])
    await service.step(block_ms=10)

    assert await listener.until_marker(bus) == [("user:online", "carol")]


async def test_two_replicas_announce_each_transition_once(
    client: aioredis.Redis, redis_prefix: str, heard: tuple[Heard, RedisBus]
) -> None:
    listener, bus = heard
    clock = Clock()
    replicas = [replica(client, redis_prefix, name, clock) for name in ("r1", "r2")]
    await replicas[0][1].ensure_group()
    sink = RedisReportSink(client, prefix=redis_prefix)
    await sink.alive("g1", 60_000)

    for n in range(20):
        await sink.write([report(JOIN, f"user-{n}", f"s{n}"), report(LEAVE, f"user-{n}", f"s{n}")])
        await asyncio.gather(*(service.step(block_ms=10) for service, _ in replicas))
    clock.advance(GRACE_MS)
    await asyncio.gather(*(service.step(block_ms=10) for service, _ in replicas))

    announced = await listener.until_marker(bus)
    assert sorted(announced) == sorted(
        [("user:online", f"user-{n}") for n in range(20)] + [("user:offline", f"user-{n}") for n in range(20)]
    )
    assert [service.leading for service, _ in replicas].count(True) == 1


async def test_reports_read_by_a_crashed_replica_are_applied_by_the_next(
    client: aioredis.Redis, redis_prefix: str, heard: tuple[Heard, RedisBus]
) -> None:
    listener, bus = heard
    clock = Clock()
    first, first_source = replica(client, redis_prefix, "r1", clock)
    await first_source.ensure_group()
    sink = RedisReportSink(client, prefix=redis_prefix)
    await sink.alive("g1", 60_000)
    assert await first._store.lead("r1", 60_000)
    await sink.write([report(JOIN, "alice", "a1"), report(JOIN, "bob", "b1")])
    taken = await first_source.read(block_ms=10)
    assert len(taken) == 2  # read, never applied nor acked: then r1 dies

    await client.delete(PresenceKeys(redis_prefix).leader)  # its lease runs out
    second, _ = replica(client, redis_prefix, "r2", clock)
    await second.step(block_ms=10)

    assert sorted(await listener.until_marker(bus)) == [("user:online", "alice"), ("user:online", "bob")]
    pending = await client.xpending(PresenceKeys(redis_prefix).reports, "presence")
    assert pending["pending"] == 0


async def test_a_replica_that_lost_the_lease_cannot_change_anything(
    client: aioredis.Redis, redis_prefix: str
) -> None:
    store = RedisPresenceStore(client, prefix=redis_prefix)
    assert await store.lead("r1", 60_000)
    assert not await store.lead("r2", 60_000)

    assert await store.apply("r2", report(JOIN, "alice", "a1"), due_ms=0, at="") == NOT_LEADER
    assert await store.expire_due("r2", now_ms=0, at="") == NOT_LEADER
    assert await store.online_users("conversation-1", ["alice"]) == set()
