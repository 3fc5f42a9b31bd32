"""Presence policy (PROTOCOL §4.4), applied by one leader among the presence replicas.

A user is online in conversation C while at least one of their sockets, on any device
and any gateway, is joined to C. The state changes only here:

- :meth:`PresenceService.apply` applies one gateway report. A join of the user's first
  socket announces ``user:online``, unless the user was in a grace period, which it then
  cancels (a quick reconnect makes no flicker). A leave of the last socket starts the
  grace period (PRESENCE_GRACE_MS); the user still counts as online during it.
- :meth:`PresenceService.expire` announces ``user:offline`` for each grace period that
  ran out with no socket back (the store returns how many it announced).
- :meth:`PresenceService.reap` drops the sockets of every gateway whose liveness key
  expired (killed without clean disconnects); their users go through the grace period.
- A ``reset`` report from a gateway drops its sockets the same way; the joins it sends
  right after (every socket it still has) cancel those grace periods, so a gateway
  rebuilding presence after Redis lost it makes no flicker.

Only the holder of the leader lease changes state, so two replicas never announce a
transition twice, and reports are applied in the order the gateways wrote them. The
store makes each transition and its announcement one atomic step, and a report is acked
only once applied, so a crash or restart loses neither state nor transition.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from parley_common.presence import RESET, PresenceReport
from parley_common.timefmt import format_ts_ms
from parley_presence.metrics import LEADER, REAPED, REPORTS, TRANSITIONS
from parley_presence.reports import ReportSource
from parley_presence.store import CAME_ONLINE, NOT_LEADER, PresenceStore

log = logging.getLogger(__name__)

LEASE_MS = 5_000
REAP_EVERY_MS = 1_000


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class NotLeader(Exception):
    """The lease was lost mid-step: stop applying, leave the rest to the new leader."""


class PresenceService:
    def __init__(
        self,
        *,
        store: PresenceStore,
        source: ReportSource,
        me: str,
        grace_ms: int,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self._store = store
        self._source = source
        self.me = me
        self._grace_ms = grace_ms
        self._clock = clock
        self.leading = False
        self._next_reap_ms = 0

    async def step(self, *, block_ms: int = 500) -> None:
        """One round: hold the lease, apply waiting reports, expire grace periods, reap."""
        if not await self._lead():
            return
        try:
            await self.apply_waiting(block_ms=block_ms)
            await self.expire()
            if self._clock() >= self._next_reap_ms:
                await self.reap()
                self._next_reap_ms = self._clock() + REAP_EVERY_MS
        except NotLeader:
            log.warning("presence replica %s lost the leader lease mid-step", self.me)
            self.leading = False

    async def _lead(self) -> bool:
        leading = await self._store.lead(self.me, LEASE_MS)
        if leading and not self.leading:
            log.info("presence replica %s leads", self.me)
            await self._source.take_over()
        self.leading = leading
        LEADER.set(1 if leading else 0)
        return leading

    async def apply_waiting(self, *, block_ms: int) -> int:
        entries = await self._source.read(block_ms=block_ms)
        applied: list[str] = []
        try:
            for entry_id, report in entries:
                await self._apply(report)
                applied.append(entry_id)
        finally:
            await self._source.ack(applied)
            REPORTS.inc(len(applied))
        return len(applied)

    async def _apply(self, report: PresenceReport) -> None:
        now = self._clock()
        if report.kind == RESET:
            dropped = await self._store.reap(self.me, report.gateway, due_ms=now + self._grace_ms)
            if dropped == NOT_LEADER:
                raise NotLeader()
            log.info("gateway %s reports all its sockets again: dropped %d first", report.gateway, dropped)
            return
        result = await self._store.apply(self.me, report, due_ms=now + self._grace_ms, at=format_ts_ms(now))
        if result == NOT_LEADER:
            raise NotLeader()
        if result == CAME_ONLINE:
            TRANSITIONS.labels("online").inc()

    async def expire(self) -> None:
        now = self._clock()
        went_offline = await self._store.expire_due(self.me, now_ms=now, at=format_ts_ms(now))
        if went_offline == NOT_LEADER:
            raise NotLeader()
        TRANSITIONS.labels("offline").inc(went_offline)

    async def reap(self) -> None:
        for gateway in await self._store.dead_gateways():
            dropped = await self._store.reap(self.me, gateway, due_ms=self._clock() + self._grace_ms)
            if dropped == NOT_LEADER:
                raise NotLeader()
            REAPED.inc(dropped)
            log.warning("gateway %s stopped heartbeating: dropped its %d socket(s)", gateway, dropped)
