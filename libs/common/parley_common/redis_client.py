"""One Redis client per process, created by the service's lifespan: a connection pool on a
single Redis, a cluster client (``REDIS_CLUSTER``) that finds every node from one URL, or a
client of the master that Redis Sentinels name (``REDIS_SENTINELS``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from parley_common.bus import Bus, RedisBus
from parley_common.sharded_bus import ShardedRedisBus

if TYPE_CHECKING:
    from parley_common.config import RedisSettings

# Both speak the same commands; a cluster client routes each to the node of its key's slot.
RedisClient: TypeAlias = aioredis.Redis | RedisCluster

# Enough for the concurrent commands of a loaded process; past it, callers queue for a
# connection (bounded by POOL_WAIT_S) instead of failing at once, which redis-py's default
# pool does ("Too many connections") the moment a burst exceeds it.
POOL_SIZE = 64
POOL_WAIT_S = 2.0


# Short timeouts: a request must fail fast into `unavailable`, never hang an ack.
_TIMEOUTS = {"socket_connect_timeout": 2, "socket_timeout": 5, "health_check_interval": 15}
# A pooled connection Redis closed (it restarted, or failed over) fails its next command,
# which would drop that publish or report; one immediate retry on a new connection does
# not. Connection errors only: a command that timed out may have run.
_RETRY_ONCE = {
    "retry_on_timeout": False,
    "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
}


def redis_from_settings(settings: RedisSettings) -> RedisClient:
    """The one place a service gets its Redis client from (it must :meth:`uses_redis`)."""
    if settings.redis_sentinels:
        assert settings.redis_sentinel_master is not None  # validated with the settings
        return create_sentinel_redis(
            settings.redis_sentinels,
            settings.redis_sentinel_master,
            sentinel_password=_secret(settings.redis_sentinel_password),
            password=_secret(settings.redis_password),
        )
    assert settings.redis_url is not None
    return create_redis(settings.redis_url, cluster=settings.redis_cluster)


def _secret(value: object) -> str | None:
    return value.get_secret_value() if value is not None else None  # type: ignore[attr-defined]


def create_sentinel_redis(
    sentinels: list[str], master: str, *, sentinel_password: str | None = None, password: str | None = None
) -> aioredis.Redis:
    """A client of ``master`` as the sentinels name it now. Every new connection asks them
    again, and a connection to a master that died or was demoted (READONLY) fails, so after
    a failover the retry and the bus's resubscription land on the promoted replica."""
    addresses = [(host, int(port)) for host, _, port in (a.rpartition(":") for a in sentinels)]
    sentinel = Sentinel(
        addresses,
        sentinel_kwargs={"password": sentinel_password, "socket_connect_timeout": 1, "socket_timeout": 1},
        password=password,
        max_connections=POOL_SIZE,
        **_TIMEOUTS,
        **_RETRY_ONCE,
    )
    return sentinel.master_for(
        master,
        redis_class=SentinelMasterRedis,
        connection_pool_class=BlockingSentinelPool,
        timeout=POOL_WAIT_S,
    )


class SentinelMasterRedis(aioredis.Redis):
    """The master's client. Closing it also closes the connections to the sentinels, which
    redis-py leaves open (a service's shutdown would leak them)."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        await super().aclose(close_connection_pool)
        pool = self.connection_pool
        assert isinstance(pool, SentinelConnectionPool)
        for sentinel in pool.sentinel_manager.sentinels:
            await sentinel.aclose()


class BlockingSentinelPool(SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """redis-py's sentinel pool (each new connection asks the sentinels for the master),
    queueing past POOL_SIZE as the single Redis's pool does: redis-py's own is a plain pool,
    which fails a burst past its size at once ("Too many connections")."""


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
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=POOL_SIZE, timeout=POOL_WAIT_S, **_TIMEOUTS, **_RETRY_ONCE
    )
    return aioredis.Redis.from_pool(pool)  # closing the client closes the pool


def redis_bus(client: RedisClient, *, prefix: str) -> Bus:
    """Sharded pub/sub on a cluster, plain pub/sub on a single Redis."""
    if isinstance(client, RedisCluster):
        return ShardedRedisBus(client, prefix=prefix)
    return RedisBus(client, prefix=prefix)


def is_cluster(client: RedisClient) -> bool:
    return isinstance(client, RedisCluster)
