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

log = logging.getLogger(__name__)


class SendRateLimiter:
    def __init__(self, storage: Storage, *, per_second: int = DEFAULT_SENDS_PER_SECOND) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._item = RateLimitItemPerSecond(per_second, 1, namespace="send")

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
        try:
            if await self._limiter.hit(self._item, user_id):
                return 0
            stats = await self._limiter.get_window_stats(self._item, user_id)
        except Exception:
            # Fail open: a Redis outage should not stop every conversation; spam control
            # resumes when the store is back.
            log.warning("rate limit store unavailable; letting a send through", exc_info=True)
            return 0
        return max(1, math.ceil((stats.reset_time - time.time()) * 1000))
