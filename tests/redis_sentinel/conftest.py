"""Parley's production topology on a real Redis Sentinel deployment (a master, its replica,
three sentinels) started for this module: the messages service, one presence replica and
two gateways, all given REDIS_SENTINELS instead of REDIS_URL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.cluster.conftest import Cluster, cluster_environment, running_cluster
from tests.support.redis_sentinel import MASTER_NAME, SentinelDeployment, redis_sentinel


@pytest.fixture(scope="module")
def sentinel_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelDeployment]:
    with redis_sentinel(tmp_path_factory.mktemp("redis-sentinel")) as nodes:
        yield nodes


@pytest.fixture(scope="module")
def on_sentinel(
    sentinel_nodes: SentinelDeployment, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    env = cluster_environment(
        postgres_url=postgres_url, redis_url="", redis_prefix=f"rs-{uuid.uuid4().hex[:8]}"
    )
    env |= {"REDIS_SENTINELS": sentinel_nodes.sentinel_addresses, "REDIS_SENTINEL_MASTER": MASTER_NAME}
    with running_cluster(env, tmp_path_factory.mktemp("logs")) as running:
        yield running


@pytest.fixture
async def cluster(on_sentinel: Cluster) -> AsyncIterator[Cluster]:
    try:
        yield on_sentinel
    finally:
        await on_sentinel.close_clients()
