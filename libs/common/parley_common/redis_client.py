"""One Redis connection pool per process, created by the service's lifespan."""

from __future__ import annotations

import redis.asyncio as aioredis


def create_redis(url: str) -> aioredis.Redis:
    # Short timeouts: a request must fail fast into `unavailable`, never hang an ack.
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=15,
        retry_on_timeout=False,
    )
