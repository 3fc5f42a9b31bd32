"""One Redis connection pool per process, created by the service's lifespan."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

# Enough for the concurrent commands of a loaded process; past it, callers queue for a
# connection (bounded by POOL_WAIT_S) instead of failing at once, which redis-py's default
# pool does ("Too many connections") the moment a burst exceeds it.
POOL_SIZE = 64
POOL_WAIT_S = 2.0


def create_redis(url: str) -> aioredis.Redis:
    # Short timeouts: a request must fail fast into `unavailable`, never hang an ack.
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_SIZE,
        timeout=POOL_WAIT_S,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=15,
        retry_on_timeout=False,
        # A pooled connection Redis closed (it restarted) fails its next command, which
        # would drop that publish or report; one immediate retry on a new connection
        # does not. Connection errors only: a command that timed out may have run.
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
    return aioredis.Redis.from_pool(pool)  # closing the client closes the pool
