"""The real presence process exits on SIGTERM, cleanly, as leader and as follower.

A follower called Redis in a tight loop, and Python 3.11's ``asyncio.wait_for`` inside
redis-py swallowed the cancellation of that loop: the process never exited (seen as an
orphan holding its port after a benchmark).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import redis

from parley_common.presence import PresenceKeys
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]

# A bound on the wait, not a pause; under serve()'s STOP_TIMEOUT_S watchdog, which would
# end the process with status 1 instead of the 0 asserted.
EXIT_WITHIN_S = 30


@pytest.mark.parametrize("role", ["leader", "follower"])
def test_presence_exits_on_sigterm(role: str, redis_url: str, redis_prefix: str, tmp_path: Path) -> None:
    if role == "follower":
        with redis.Redis.from_url(redis_url) as client:
            client.set(PresenceKeys(redis_prefix).leader, "another-replica", px=60_000)
    env = {"DEV_MODE": "true", "REDIS_URL": redis_url, "REDIS_PREFIX": redis_prefix}
    presence = ServiceProcess("parley_presence", port=free_port(), env=env, log_dir=tmp_path, name="presence")
    try:
        presence.start()
        presence.signal(signal.SIGTERM)
        assert presence.wait(EXIT_WITHIN_S) == 0, presence.logs()
    finally:
        presence.stop()
