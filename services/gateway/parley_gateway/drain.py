"""Leaving gracefully on SIGTERM (a rolling update, a scale-down).

Policy: once draining, ``/readyz`` answers 503 and new client events are answered
``unavailable`` (nothing was done; clients retry after reconnecting, with the same
clientMessageId). Events already in flight get up to DRAIN_TIMEOUT_S to finish, so their
acks reach the client. Then the server closes every connection as a transport close,
which Socket.IO clients answer by reconnecting (to another gateway, through the load
balancer); a server-side DISCONNECT would tell them not to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class Drain:
    def __init__(self, *, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self.draining = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        """Wrap the handling of one client event."""
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def start(self) -> None:
        """Stop taking new events and wait (bounded) for those in flight."""
        self.draining = True
        log.info("draining: %d event(s) in flight", self._in_flight)
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._idle.wait()
        except TimeoutError:
            log.warning("drain timeout: %d event(s) still in flight", self._in_flight)
