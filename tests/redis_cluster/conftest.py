"""Parley's production topology on a real Redis Cluster (three masters, a replica each)
started for this module: the messages service, one presence replica and two gateways."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.cluster.conftest import Cluster, cluster_environment, running_cluster
from tests.support.redis_cluster import RedisCluster, redis_cluster


@pytest.fixture(scope="module")
def redis_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    with redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as nodes:
        yield nodes


@pytest.fixture(scope="module")
def on_cluster(
    redis_nodes: RedisCluster, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    env = cluster_environment(
        postgres_url=postgres_url, redis_url=redis_nodes.url, redis_prefix=f"rc-{uuid.uuid4().hex[:8]}"
    )
    with running_cluster(env | {"REDIS_CLUSTER": "true"}, tmp_path_factory.mktemp("logs")) as running:
        yield running


@pytest.fixture
async def cluster(on_cluster: Cluster) -> AsyncIterator[Cluster]:
    try:
        yield on_cluster
    finally:
        await on_cluster.close_clients()
