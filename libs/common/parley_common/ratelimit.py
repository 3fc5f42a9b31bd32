"""Per-user send rate limit (PROTOCOL §4.2): at most N sends per sliding second.

Policy: the window slides (limits' moving window), so no burst of 2N can straddle a
window boundary. The count is per user across every device, gateway and the HTTP route,
so it lives in Redis when there is more than one process, in memory in the embedded
default. Only sends that will really be stored are counted: callers answer duplicates and
refusals before calling :meth:`SendRateLimiter.acquire`.
"""

from __future__ import annotations

import logging
import math
import time

import redis.asyncio as aioredis
from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

DEFAULT_SENDS_PER_SECOND = 10
# During an outage every send fails open; one warning per interval, not one per send
# (formatting a traceback per send cost more CPU than the sends themselves).
OUTAGE_LOG_INTERVAL_S = 10.0

log = logging.getLogger(__name__)


class SendRateLimiter:
    def __init__(self, storage: Storage, *, per_second: int = DEFAULT_SENDS_PER_SECOND) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._item = RateLimitItemPerSecond(per_second, 1, namespace="send")
        self._outage_logged_at = -math.inf

    @classmethod
    def in_memory(cls, *, per_second: int = DEFAULT_SENDS_PER_SECOND) -> SendRateLimiter:
        return cls(MemoryStorage(), per_second=per_second)

    @classmethod
    def redis(
        cls, client: aioredis.Redis, *, prefix: str, per_second: int = DEFAULT_SENDS_PER_SECOND
    ) -> SendRateLimiter:
        """Share the process's Redis connection pool instead of opening another."""
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            key_prefix=f"{prefix}:ratelimit",
            connection_pool=client.connection_pool,  # type: ignore[arg-type]
        )
        return cls(storage, per_second=per_second)

    async def acquire(self, user_id: str) -> int:
        """Take one send for ``user_id``: 0 when allowed, else milliseconds to wait."""
        return (await self.acquire_many([user_id]))[0]

    async def acquire_many(self, user_ids: list[str]) -> list[int]:
        """:meth:`acquire` for several sends, in order (a user may appear more than once).

        On Redis, every hit goes in one pipeline: one round trip for a whole batch of sends
        rather than one per send.
        """
        try:
            if isinstance(self._storage, RedisStorage) and len(user_ids) > 1:
                taken = await self._hit_pipelined(user_ids)
            else:
                taken = [await self._limiter.hit(self._item, user_id) for user_id in user_ids]
            return [0 if ok else await self._wait_ms(u) for u, ok in zip(user_ids, taken, strict=True)]
        except Exception:
            # Fail open: a Redis outage should not stop every conversation; spam control
            # resumes when the store is back.
            now = time.monotonic()
            if now - self._outage_logged_at >= OUTAGE_LOG_INTERVAL_S:
                self._outage_logged_at = now
                log.warning("rate limit store unavailable; letting sends through", exc_info=True)
            return [0] * len(user_ids)

    async def _hit_pipelined(self, user_ids: list[str]) -> list[bool]:
        # The same script and arguments as limits' MovingWindowRateLimiter.hit (pinned
        # version; tests/common/test_ratelimit.py holds both paths to one behaviour).
        bridge = self._storage.bridge  # type: ignore[attr-defined]
        pipe = bridge.get_connection().pipeline(transaction=False)
        now = time.time()
        for user_id in user_ids:
            key = bridge.prefixed_key(self._item.key_for(user_id))
            await bridge.lua_acquire_moving_window(
                keys=[key], args=[now, self._item.amount, self._item.get_expiry(), 1], client=pipe
            )
        return [bool(ok) for ok in await pipe.execute()]

    async def _wait_ms(self, user_id: str) -> int:
        stats = await self._limiter.get_window_stats(self._item, user_id)
        return max(1, math.ceil((stats.reset_time - time.time()) * 1000))
