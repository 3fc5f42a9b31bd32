"""The soak runs on the cluster of tests/cluster: real processes, the session's databases."""

from tests.cluster.conftest import cluster_env, processes

__all__ = ["cluster_env", "processes"]
