"""The gateway's presence reporter on its own: reports in order, and everything again when
presence lost this gateway's sockets (its liveness key was gone)."""

from __future__ import annotations

import asyncio

from parley_common.presence import JOIN, LEAVE, RESET, PresenceReport
from parley_gateway.presence_reporter import PresenceReporter

TTL_MS = 300  # heartbeats every 100 ms


class Sink:
    def __init__(self) -> None:
        self.written: list[PresenceReport] = []
        self.key_kept = True
        self.changed = asyncio.Event()

    async def write(self, reports: list[PresenceReport]) -> None:
        self.written.extend(reports)
        self.changed.set()

    async def alive(self, gateway: str, ttl_ms: int) -> bool:
        return self.key_kept

    async def until(self, count: int) -> list[tuple[str, str]]:
        async with asyncio.timeout(5):
            while len(self.written) < count:
                self.changed.clear()
                await self.changed.wait()
        return [(r.kind, r.socket) for r in self.written]


async def test_everything_is_reported_again_when_the_liveness_key_was_gone() -> None:
    sink = Sink()
    joined = {("s1", "alice", "c1"), ("s2", "bob", "c1")}
    reporter = PresenceReporter(sink, gateway_id="g1", ttl_ms=TTL_MS, sockets=lambda: sorted(joined))
    async with reporter.running():
        reporter.joined(socket="s1", user="alice", conversation="c1")
        reporter.joined(socket="s2", user="bob", conversation="c1")
        reporter.joined(socket="s3", user="carol", conversation="c1")
        reporter.left(socket="s3", user="carol", conversation="c1")
        assert await sink.until(4) == [(JOIN, "s1"), (JOIN, "s2"), (JOIN, "s3"), (LEAVE, "s3")]

        sink.key_kept = False  # Redis restarted empty, or presence reaped this gateway
        written = await sink.until(7)
        sink.key_kept = True

    assert written[4:] == [(RESET, ""), (JOIN, "s1"), (JOIN, "s2")]
    assert {r.gateway for r in sink.written} == {"g1"}
