"""The soak runs on the cluster of tests/cluster: real processes, the session's databases."""

import pytest

from tests.cluster.conftest import cluster_environment, processes

__all__ = ["cluster_env", "processes"]


@pytest.fixture
def cluster_env(postgres_url: str, redis_url: str, redis_prefix: str) -> dict[str, str]:
    env = cluster_environment(postgres_url=postgres_url, redis_url=redis_url, redis_prefix=redis_prefix)
    # Every soak connection comes from 127.0.0.1; `make soak` puts 500 on each gateway, the
    # default cap per address (docs/security.md), which is for real clients, not for this.
    return env | {"MAX_CONNECTIONS_PER_ADDRESS": "100000"}
