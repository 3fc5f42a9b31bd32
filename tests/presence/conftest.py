"""Presence policy against both stores: in memory, and the real Redis (Lua scripts)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis

from parley_common.bus import Bus, InProcessBus, RedisBus
from parley_common.events import ROOM_EVENTS
from parley_common.presence import JOIN, LEAVE, InProcessReports, PresenceReport, RedisReportSink
from parley_presence.reports import InProcessReportSource
from parley_presence.service import PresenceService
from parley_presence.store import MemoryPresenceStore, PresenceStore, RedisPresenceStore

GRACE_MS = 2_000
START_MS = 1_800_000_000_000


class Clock:
    """Milliseconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = START_MS

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


@dataclass
class Presence:
    """A presence service on a store, fed by an in-process queue, its announcements heard."""

    store: PresenceStore
    bus: Bus
    clock: Clock
    reports: InProcessReports
    service: PresenceService
    heard: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    conversation: str = field(default_factory=lambda: f"c-{uuid.uuid4().hex[:8]}")

    def report(
        self, kind: str, user: str, socket: str, *, gateway: str = "g1", conversation: str = ""
    ) -> None:
        self.reports.queue.put_nowait(
            PresenceReport(kind, gateway, socket, user, conversation or self.conversation)
        )

    def join(self, user: str, socket: str, **where: str) -> None:
        self.report(JOIN, user, socket, **where)

    def leave(self, user: str, socket: str, **where: str) -> None:
        self.report(LEAVE, user, socket, **where)

    async def settle(self) -> list[tuple[str, str]]:
        """Apply what was reported, expire what is due; return the announcements made."""
        while not self.reports.queue.empty():
            await self.service.step(block_ms=1)
        await self.service.step(block_ms=1)
        marker = {"event": "__marker__", "conversation_id": "", "data": {}}
        await self.bus.publish(ROOM_EVENTS, marker)
        announced = []
        while (event := await asyncio.wait_for(self.heard.get(), 5))["event"] != "__marker__":
            announced.append((event["event"], event["data"]["userId"]))
            assert event["data"]["at"].endswith("Z")
        return announced


@pytest.fixture(params=["memory", "redis"])
async def presence(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[Presence]:
    async with AsyncExitStack() as stack:
        store: PresenceStore
        bus: InProcessBus | RedisBus
        if request.param == "memory":
            bus = InProcessBus()
            store = MemoryPresenceStore(bus)
        else:
            url = request.getfixturevalue("redis_url")
            client = aioredis.Redis.from_url(url)
            stack.push_async_callback(client.aclose)
            bus = RedisBus(client, prefix=redis_prefix)
            store = RedisPresenceStore(client, prefix=redis_prefix)
            # The tests' gateway is alive; reaping has its own tests.
            await RedisReportSink(client, prefix=redis_prefix).alive("g1", 600_000)
        clock = Clock()
        reports = InProcessReports()
        service = PresenceService(
            store=store, source=InProcessReportSource(reports), me="replica-1", grace_ms=GRACE_MS, clock=clock
        )
        events = await stack.enter_async_context(bus.tap())  # each conversation has its channel
        running = Presence(store=store, bus=bus, clock=clock, reports=reports, service=service)

        async def listen() -> None:
            async for _, event in events:
                running.heard.put_nowait(event)

        task = asyncio.create_task(listen())
        stack.callback(task.cancel)
        yield running
