"""Whether the HTTP API answers, and when to try it again after it did not.

Every HTTP request reports its fate here. After a request that got no answer the polling
path waits like the socket's reconnect (1, 2, 4 … 30 s, with jitter) before the next try,
or less if another request gets an answer meanwhile; time waiting never counts against a
message's retries (PROTOCOL §6, offline).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from contextlib import suppress

from parley_client.backoff import reconnect_delay
from parley_client.clock import Clock, within


class HttpLink:
    def __init__(self, clock: Clock, rng: random.Random | None = None) -> None:
        self._clock = clock
        self._rng = rng or random.Random()
        self.reachable = True  # until a request says otherwise
        self._failures = 0
        self._retry_at = 0.0
        self._answered = asyncio.Event()
        self._answered.set()
        self._listeners: list[Callable[[bool], None]] = []

    def on_change(self, listener: Callable[[bool], None]) -> None:
        self._listeners.append(listener)

    def report(self, answered: bool) -> None:
        """A request got an HTTP answer (any status), or none."""
        was = self.reachable
        if answered:
            self._failures = 0
            self.reachable = True
            self._answered.set()
        else:
            self._retry_at = self._clock.now() + reconnect_delay(self._failures, self._rng)
            self._failures += 1
            self.reachable = False
            self._answered.clear()
        if self.reachable != was:
            for listener in list(self._listeners):
                listener(self.reachable)

    async def wait_usable(self) -> None:
        """At once while reachable; otherwise until the backoff is over or an answer came."""
        if self.reachable:
            return
        wait = self._retry_at - self._clock.now()
        if wait > 0:
            with suppress(TimeoutError):
                await within(self._clock, wait, self._answered.wait())
