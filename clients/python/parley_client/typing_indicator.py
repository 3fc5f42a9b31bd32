"""Typing indicators (PROTOCOL §6, REQUIREMENTS 2.8).

:class:`TypingSender` turns keystrokes into ``typing:start`` (on the first one, and again at
most every 3 s while they go on, so that others' 6 s expiry never hides a long burst) and
``typing:stop`` (after 2 s without one, or on send). :class:`TypingWatcher` shows others'
indicators until their ``typing:stop`` or 6 s of silence, and never one's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from parley_client.backoff import REMOTE_TYPING_TTL_S, TYPING_IDLE_S, TYPING_REFRESH_S
from parley_client.clock import Clock
from parley_client.tasks import spawn

Emit = Callable[[str], Awaitable[None]]


class TypingSender:
    def __init__(self, emit: Emit, clock: Clock) -> None:
        self._emit = emit
        self._clock = clock
        self._typing = False
        self._last_key = 0.0
        self._last_start = 0.0
        self._idle: asyncio.Task[None] | None = None

    @property
    def typing(self) -> bool:
        return self._typing

    def keystroke(self) -> None:
        now = self._last_key = self._clock.now()
        if not self._typing or now - self._last_start >= TYPING_REFRESH_S:
            self._typing = True
            self._last_start = now
            spawn(self._emit("typing:start"))
        if self._idle is None or self._idle.done():
            self._idle = spawn(self._stop_when_idle())

    def stop(self) -> None:
        """On send, or when the user leaves the conversation."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._typing:
            self._typing = False
            spawn(self._emit("typing:stop"))

    async def _stop_when_idle(self) -> None:
        while True:
            wait = self._last_key + TYPING_IDLE_S - self._clock.now()
            if wait <= 0:
                break
            await self._clock.sleep(wait)
        self._idle = None
        self.stop()


class TypingWatcher:
    def __init__(self, own_user_id: str, clock: Clock, on_change: Callable[[], None]) -> None:
        self._me = own_user_id
        self._clock = clock
        self._on_change = on_change
        self._expiry: dict[str, asyncio.Task[None]] = {}

    @property
    def typing_users(self) -> set[str]:
        return set(self._expiry)

    def started(self, user_id: str) -> None:
        if user_id == self._me:
            return
        previous = self._expiry.pop(user_id, None)
        if previous is not None:
            previous.cancel()
        self._expiry[user_id] = asyncio.ensure_future(self._expire(user_id))
        if previous is None:
            self._on_change()

    def stopped(self, user_id: str) -> None:
        task = self._expiry.pop(user_id, None)
        if task is not None:
            task.cancel()
            self._on_change()

    async def _expire(self, user_id: str) -> None:
        await self._clock.sleep(REMOTE_TYPING_TTL_S)
        if self._expiry.get(user_id) is asyncio.current_task():
            del self._expiry[user_id]
            self._on_change()

    def clear(self) -> None:
        for task in self._expiry.values():
            task.cancel()
        self._expiry.clear()
