"""Stopping a background task for sure.

Python 3.11's ``asyncio.wait_for``, which redis-py puts around every write to Redis,
returns the write's result instead of raising when the cancellation lands in the loop
iteration where the write finished (CPython gh-86296, fixed in 3.12). The task then goes
on as if it had never been cancelled: a loop of Redis calls, such as presence's, kept a
service from exiting on SIGTERM. A cancellation therefore has to be repeated until the
task has ended.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

# Long enough for a task that took the cancellation to finish its clean-up, short enough
# that one whose cancellation was swallowed is stopped before anyone notices.
RECANCEL_AFTER_S = 0.5


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` (again, while it goes on) until it has ended; its own error, if it
    failed rather than stopped, is raised."""
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=RECANCEL_AFTER_S)
    with suppress(asyncio.CancelledError):
        task.result()
