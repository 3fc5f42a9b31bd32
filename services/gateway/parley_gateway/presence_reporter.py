"""The gateway's side of presence: report joins and leaves, and stay visibly alive.

Handlers call :meth:`PresenceReporter.joined` / :meth:`left` synchronously, right where
the socket's rooms change, so the reports are queued in the order things happened; one
task writes them out in that order, in batches. A failed write is retried with the
batch kept in front, so a Redis blip delays presence and loses nothing (up to a bound).
A second task refreshes this gateway's liveness key; presence reaps the sockets of a
gateway whose key expired.

When the refresh finds the key gone, presence may have lost this gateway's sockets: Redis
restarted empty (or failed over to a replica that lacked them), or presence took this
gateway for dead and reaped them. The reports not yet written are then replaced by a
``reset`` and a join of every socket still joined (the ``sockets`` snapshot), taken in one
step, so that what follows is a plain delta on it: presence is rebuilt from the gateways.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

from parley_common.presence import JOIN, LEAVE, RESET, PresenceReport, ReportSink
from parley_common.tasks import cancel_and_wait

log = logging.getLogger(__name__)

MAX_BUFFERED = 100_000
BATCH = 500

# (socket, user, conversation) of every socket joined to a conversation, right now.
Snapshot = Callable[[], Iterable[tuple[str, str, str]]]


class PresenceReporter:
    def __init__(
        self, sink: ReportSink, *, gateway_id: str, ttl_ms: int, sockets: Snapshot = lambda: ()
    ) -> None:
        self._sink = sink
        self.gateway_id = gateway_id
        self._ttl_ms = ttl_ms
        self._sockets = sockets
        self._buffer: deque[PresenceReport] = deque()
        self._wake = asyncio.Event()
        self._report_all = False

    def joined(self, *, socket: str, user: str, conversation: str) -> None:
        self._queue(JOIN, socket, user, conversation)

    def left(self, *, socket: str, user: str, conversation: str) -> None:
        self._queue(LEAVE, socket, user, conversation)

    def _queue(self, kind: str, socket: str, user: str, conversation: str) -> None:
        if len(self._buffer) >= MAX_BUFFERED:
            self._buffer.popleft()
            log.error("presence reports backed up past %d; dropping the oldest", MAX_BUFFERED)
        self._buffer.append(
            PresenceReport(
                kind=kind, gateway=self.gateway_id, socket=socket, user=user, conversation=conversation
            )
        )
        self._wake.set()

    def _rebuild(self) -> None:
        """Replace what is not written yet with a reset and the joins of every socket."""
        self._buffer.clear()
        self._buffer.append(PresenceReport(kind=RESET, gateway=self.gateway_id))
        for socket, user, conversation in self._sockets():
            self._buffer.append(
                PresenceReport(
                    kind=JOIN, gateway=self.gateway_id, socket=socket, user=user, conversation=conversation
                )
            )
        log.warning("presence had lost this gateway's sockets: reported %d again", len(self._buffer) - 1)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        await self._heartbeat_once()
        self._report_all = False  # a new gateway's key is missing, and it has nothing to report yet
        tasks = [
            asyncio.create_task(self._write_forever(), name="presence-reports"),
            asyncio.create_task(self._heartbeat_forever(), name="presence-heartbeat"),
        ]
        try:
            yield
        finally:
            for task in tasks:
                await cancel_and_wait(task)
            await self.flush()  # the leaves of a clean shutdown

    async def flush(self) -> None:
        while self._buffer:
            batch = [self._buffer[i] for i in range(min(BATCH, len(self._buffer)))]
            await self._sink.write(batch)
            for _ in batch:
                self._buffer.popleft()

    async def _write_forever(self) -> None:
        backoff = 0.25
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._report_all:
                self._report_all = False
                self._rebuild()  # here: the only task that writes, so no batch is in flight
            try:
                await self.flush()
                backoff = 0.25
            except Exception as exc:
                log.warning("could not write presence reports (%s); retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)  # Redis back: presence hears of it within a second
                self._wake.set()

    async def _heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3 / 1000)
            await self._heartbeat_once()

    async def _heartbeat_once(self) -> None:
        try:
            kept = await self._sink.alive(self.gateway_id, self._ttl_ms)
        except Exception as exc:
            log.warning("could not refresh this gateway's presence heartbeat: %s", exc)
            return
        if not kept:
            self._report_all = True
            self._wake.set()
