"""Per-user send rate limit (PROTOCOL §4.2): at most N sends per sliding second.

Policy: a moving window (the times of a user's last N admitted sends), so no burst of 2N
can straddle a window boundary. The count is per user across every device, gateway and
the HTTP route, so it lives in Redis when there is more than one process, in memory in the
embedded default.

Only sends that are really stored may count, yet the batch send path takes its slots
*before* it knows (so that the checks and the insert are one database round trip). So a
slot can be handed back: :meth:`SendRateLimiter.give_back` undoes a take for a send that
turned out to be a duplicate or a refusal. That is why this is not the ``limits``
library: it has no way to return a hit.

Times come from the caller's clock (``time.time``), as ``limits`` did, so tests move them
by hand; processes' clocks are NTP-close, which is all a one-second window needs.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from redis.crc import key_slot

from parley_common.redis_client import RedisClient, is_cluster

DEFAULT_SENDS_PER_SECOND = 10
WINDOW_MS = 1000
# During an outage every send fails open; one warning per interval, not one per send
# (formatting a traceback per send cost more CPU than the sends themselves).
OUTAGE_LOG_INTERVAL_S = 10.0
_PRUNE_EVERY_MS = 60_000

log = logging.getLogger(__name__)

# KEYS: one list per send (a user may appear more than once, in send order).
# ARGV: now (ms), the limit, the window (ms). Each list holds the user's last admitted
# times, newest first. Returns, per send, 0 (admitted: `now` pushed) or the ms to wait.
# All keys in one script call: one round trip and one script run for a whole batch. On a
# Redis Cluster a script may only touch one slot: each user's key is hash-tagged by the
# user, and a batch goes as one call per slot, all at once (:class:`_RedisWindow`).
_TAKE = """
local now, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local waits = {}
for i, key in ipairs(KEYS) do
  local wait = 0
  if redis.call('LLEN', key) >= limit then
    local oldest = tonumber(redis.call('LINDEX', key, limit - 1))
    if now - oldest < window then wait = window - (now - oldest) end
  end
  if wait == 0 then
    redis.call('LPUSH', key, ARGV[1])
    redis.call('LTRIM', key, 0, limit - 1)
    redis.call('PEXPIRE', key, window)
  end
  waits[i] = wait
end
return waits
"""


@dataclass(frozen=True)
class Admission:
    """What :meth:`SendRateLimiter.admit` decided for a list of sends."""

    waits: list[int]  # per send, in order: 0 admitted, else milliseconds to wait
    stamp_ms: int  # the time the admitted ones were recorded under (for give_back)


class _Window(Protocol):
    async def take(self, user_ids: Sequence[str], now_ms: int) -> list[int]: ...

    async def give_back(self, user_ids: Sequence[str], stamp_ms: int) -> None: ...


class SendRateLimiter:
    def __init__(self, window: _Window) -> None:
        self._window = window
        self._outage_logged_at = -math.inf

    @classmethod
    def in_memory(cls, *, per_second: int = DEFAULT_SENDS_PER_SECOND) -> SendRateLimiter:
        return cls(_MemoryWindow(per_second))

    @classmethod
    def redis(
        cls, client: RedisClient, *, prefix: str, per_second: int = DEFAULT_SENDS_PER_SECOND
    ) -> SendRateLimiter:
        """On the process's own Redis client (its connection pool)."""
        return cls(_RedisWindow(client, f"{prefix}:ratelimit:send:", per_second))

    async def acquire(self, user_id: str) -> int:
        """Take one send for ``user_id``: 0 when allowed, else milliseconds to wait."""
        return (await self.admit([user_id])).waits[0]

    async def admit(self, user_ids: Sequence[str]) -> Admission:
        """Take a slot for each send, in order (a user may appear more than once), in one
        round trip to the store."""
        now_ms = int(time.time() * 1000)
        try:
            waits = await self._window.take(user_ids, now_ms)
        except Exception:
            # Fail open: a Redis outage should not stop every conversation; spam control
            # resumes when the store is back.
            self._log_outage()
            waits = [0] * len(user_ids)
        return Admission(waits=waits, stamp_ms=now_ms)

    async def give_back(self, user_ids: Sequence[str], admission: Admission) -> None:
        """Return one slot per listed user (sends admitted by ``admission`` that were not
        stored after all). Best effort: a failure leaves the slots to expire with the window."""
        if not user_ids:
            return
        try:
            await self._window.give_back(user_ids, admission.stamp_ms)
        except Exception:
            self._log_outage()

    def _log_outage(self) -> None:
        now = time.monotonic()
        if now - self._outage_logged_at >= OUTAGE_LOG_INTERVAL_S:
            self._outage_logged_at = now
            log.warning("rate limit store unavailable; letting sends through", exc_info=True)


class _RedisWindow:
    def __init__(self, client: RedisClient, key_prefix: str, limit: int) -> None:
        self._client = client
        self._key_prefix = key_prefix
        self._limit = limit
        self._cluster = is_cluster(client)
        self._take = client.register_script(_TAKE)

    def key(self, user_id: str) -> str:
        return f"{self._key_prefix}{{{user_id}}}"  # {user}: the user's slot on a cluster

    async def take(self, user_ids: Sequence[str], now_ms: int) -> list[int]:
        keys = [self.key(user_id) for user_id in user_ids]
        args = [now_ms, self._limit, WINDOW_MS]
        if not self._cluster:
            return [int(wait) for wait in await self._take(keys=keys, args=args)]
        by_slot: dict[int, list[int]] = {}  # slot -> the sends' positions, in order
        for position, key in enumerate(keys):
            by_slot.setdefault(key_slot(key.encode()), []).append(position)
        answers = await asyncio.gather(
            *(self._take(keys=[keys[p] for p in positions], args=args) for positions in by_slot.values())
        )
        waits = [0] * len(keys)
        for positions, answer in zip(by_slot.values(), answers, strict=True):
            for position, wait in zip(positions, answer, strict=True):
                waits[position] = int(wait)
        return waits

    async def give_back(self, user_ids: Sequence[str], stamp_ms: int) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.lrem(self.key(user_id), 1, str(stamp_ms))
            await pipe.execute()


class _MemoryWindow:
    """The same moving window in this process (the embedded default)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._times: defaultdict[str, deque[int]] = defaultdict(deque)
        self._pruned_at_ms = 0

    async def take(self, user_ids: Sequence[str], now_ms: int) -> list[int]:
        if now_ms - self._pruned_at_ms >= _PRUNE_EVERY_MS:
            self._prune(now_ms)
        return [self._take_one(user_id, now_ms) for user_id in user_ids]

    def _prune(self, now_ms: int) -> None:
        # Forget users quiet for a window, or the map grows with every user ever seen.
        self._pruned_at_ms = now_ms
        for user_id in [
            u for u, times in self._times.items() if not times or now_ms - times[-1] >= WINDOW_MS
        ]:
            del self._times[user_id]

    def _take_one(self, user_id: str, now_ms: int) -> int:
        times = self._times[user_id]  # oldest first
        while times and now_ms - times[0] >= WINDOW_MS:
            times.popleft()
        if len(times) >= self._limit:
            return WINDOW_MS - (now_ms - times[0])
        times.append(now_ms)
        return 0

    async def give_back(self, user_ids: Sequence[str], stamp_ms: int) -> None:
        for user_id in user_ids:
            times = self._times.get(user_id)
            if times and stamp_ms in times:
                times.remove(stamp_ms)
            if not times:
                self._times.pop(user_id, None)
