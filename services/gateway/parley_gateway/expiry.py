"""A connection does not outlive its token (PROTOCOL §2).

At ``exp + JWT_LEEWAY_S`` the socket gets ``auth:expired`` and is disconnected; the client
refreshes its token and reconnects. One loop timer per socket, cancelled on disconnect.
The clock is injectable so that the rule can be tested without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Expire = Callable[[], Awaitable[None]]


class TokenExpiry:
    def __init__(self, *, leeway_s: float, clock: Callable[[], float] = time.time) -> None:
        self._leeway_s = leeway_s
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    def delay_until_expiry(self, expires_at: float) -> float:
        return max(0.0, expires_at + self._leeway_s - self._clock())

    def schedule(self, expires_at: float, expire: Expire) -> asyncio.TimerHandle:
        """Run ``expire`` when the token lapses; the handle cancels it."""
        loop = asyncio.get_running_loop()
        return loop.call_later(self.delay_until_expiry(expires_at), self._start, expire)

    def _start(self, expire: Expire) -> None:
        task = asyncio.ensure_future(expire())
        # Held until done: the loop keeps only weak references to tasks.
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
