"""The process's Redis pool across a restart of Redis (a private server, restarted here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from parley_common.redis_client import create_redis
from tests.conftest import unreachable
from tests.support.private_servers import PrivateRedis, Unavailable


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    try:
        server = PrivateRedis(tmp_path).start()
    except Unavailable as exc:
        unreachable("a private Redis", exc)
        raise
    try:
        yield server
    finally:
        server.kill()


async def test_a_pooled_connection_closed_by_a_restart_does_not_fail_the_next_command(
    private_redis: PrivateRedis,
) -> None:
    client = create_redis(private_redis.url)
    try:
        await client.publish("channel", b"before")  # leaves a connection in the pool
        private_redis.restart()
        # The pooled connection is dead; without a retry this raises "Connection closed by server".
        assert await client.publish("channel", b"after") == 0
        assert await client.set("key", b"1", get=True) is None  # a restart without persistence: empty
    finally:
        await client.aclose()
