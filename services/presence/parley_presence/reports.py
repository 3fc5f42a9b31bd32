"""Where the presence service reads the gateways' reports from.

Redis: a stream read through one consumer group, so what was read but not yet applied
survives a crash (it stays pending) and a new leader takes it over (XAUTOCLAIM) before
reading anything newer: reports are applied in the order the gateways wrote them. If
Redis loses the group (a restart without persistence), it is created again; the gateways
notice the same loss and report all their sockets again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from redis.exceptions import ResponseError

from parley_common.presence import InProcessReports, PresenceKeys, PresenceReport
from parley_common.redis_client import RedisClient

log = logging.getLogger(__name__)

GROUP = "presence"
BATCH = 500

Entry = tuple[str, PresenceReport]


class ReportSource(Protocol):
    async def take_over(self) -> None:
        """On becoming leader: adopt the reports other replicas read and did not ack."""
        ...

    async def read(self, *, block_ms: int) -> list[Entry]: ...

    async def ack(self, ids: list[str]) -> None: ...


class RedisReportSource:
    def __init__(self, client: RedisClient, *, prefix: str, consumer: str) -> None:
        self._redis = client
        self._key = PresenceKeys(prefix).reports
        self._consumer = consumer
        self._own_pending_first = True

    async def ensure_group(self) -> None:
        try:
            # From the start of the stream: reports written before presence ever ran count too.
            await self._redis.xgroup_create(self._key, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def take_over(self) -> None:
        start = "0-0"
        while True:
            # Not justid: redis-py then drops the cursor this loop needs.
            try:
                answer: Any = await self._redis.xautoclaim(
                    self._key, GROUP, self._consumer, min_idle_time=0, start_id=start, count=BATCH
                )
            except ResponseError as exc:
                await self._group_lost(exc)
                break
            start = _text(answer[0])
            if start == "0-0":
                break
        self._own_pending_first = True

    async def read(self, *, block_ms: int) -> list[Entry]:
        try:
            if self._own_pending_first:
                entries = await self._xread("0", block_ms=None)
                if entries:
                    return entries
                self._own_pending_first = False
            return await self._xread(">", block_ms=block_ms)
        except ResponseError as exc:
            await self._group_lost(exc)
            return []

    async def _group_lost(self, exc: ResponseError) -> None:
        if "NOGROUP" not in str(exc):
            raise exc
        log.warning("the presence report group is gone (Redis lost its data); creating it again")
        await self.ensure_group()

    async def ack(self, ids: list[str]) -> None:
        if ids:
            await self._redis.xack(self._key, GROUP, *ids)

    async def _xread(self, start: str, *, block_ms: int | None) -> list[Entry]:
        answer: Any = await self._redis.xreadgroup(
            GROUP, self._consumer, {self._key: start}, count=BATCH, block=block_ms
        )
        entries: list[Entry] = []
        malformed: list[str] = []
        for _, items in answer or []:
            for entry_id, fields in items:
                try:
                    entries.append((_text(entry_id), PresenceReport.from_fields(fields)))
                except (KeyError, AttributeError):  # missing fields, or trimmed away (None)
                    malformed.append(_text(entry_id))
        if malformed:
            log.error("dropping %d malformed presence report(s)", len(malformed))
            await self.ack(malformed)
        return entries


class InProcessReportSource:
    """The embedded default: the gateway's reports arrive on a queue in this process."""

    def __init__(self, reports: InProcessReports) -> None:
        self._queue = reports.queue

    async def take_over(self) -> None:
        return None

    async def read(self, *, block_ms: int) -> list[Entry]:
        try:
            first = await asyncio.wait_for(self._queue.get(), block_ms / 1000)
        except TimeoutError:
            return []
        entries = [("", first)]
        while not self._queue.empty() and len(entries) < BATCH:
            entries.append(("", self._queue.get_nowait()))
        return entries

    async def ack(self, ids: list[str]) -> None:
        return None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
