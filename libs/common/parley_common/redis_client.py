"""One Redis client per process, created by the service's lifespan: a connection pool on a
single Redis, or a cluster client (``REDIS_CLUSTER``) that finds every node from one URL."""

from __future__ import annotations

from typing import TypeAlias

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from parley_common.bus import Bus, RedisBus
from parley_common.sharded_bus import ShardedRedisBus

# Both speak the same commands; a cluster client routes each to the node of its key's slot.
RedisClient: TypeAlias = aioredis.Redis | RedisCluster

# Enough for the concurrent commands of a loaded process; past it, callers queue for a
# connection (bounded by POOL_WAIT_S) instead of failing at once, which redis-py's default
# pool does ("Too many connections") the moment a burst exceeds it.
POOL_SIZE = 64
POOL_WAIT_S = 2.0


def create_redis(url: str, *, cluster: bool = False) -> RedisClient:
    if cluster:
        # Per node; redis-py refreshes the slot map itself on MOVED or a dead node.
        return RedisCluster.from_url(
            url,
            max_connections=POOL_SIZE,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=15,
        )
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


def redis_bus(client: RedisClient, *, prefix: str) -> Bus:
    """Sharded pub/sub on a cluster, plain pub/sub on a single Redis."""
    if isinstance(client, RedisCluster):
        return ShardedRedisBus(client, prefix=prefix)
    return RedisBus(client, prefix=prefix)


def is_cluster(client: RedisClient) -> bool:
    return isinstance(client, RedisCluster)
