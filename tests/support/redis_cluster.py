"""A real Redis Cluster on this machine, started by the tests: three masters (and a replica
each, for failover) from the local ``redis-server --cluster-enabled yes``, joined with
``redis-cli --cluster create``. Nothing is kept on disk."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.ports import free_port

MASTERS = 3
NODE_TIMEOUT_MS = 1000  # how long a silent master goes before its replica takes over
UP_WAIT_S = 30.0


@dataclass
class ClusterNode:
    port: int
    bus_port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


@dataclass
class RedisCluster:
    nodes: list[ClusterNode] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Any node: clients discover the rest."""
        return self.nodes[0].url

    def masters(self) -> list[ClusterNode]:
        return [node for node in self.nodes if node.process.poll() is None and _role(node) == "master"]

    def master_of(self, key: str) -> ClusterNode:
        """The master serving ``key``'s slot now (as a live master sees it)."""
        client = self.masters()[0].client()
        slot = int(client.execute_command("CLUSTER KEYSLOT", key))
        for start, end, master, *_ in client.execute_command("CLUSTER SLOTS"):
            if start <= slot <= end:
                return next(node for node in self.nodes if node.port == int(master[1]))
        raise LookupError(f"no master serves slot {slot}")

    def wait_healthy(self, wait_s: float = UP_WAIT_S) -> None:
        """Every slot served, as every live node sees it."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            live = [node for node in self.nodes if node.process.poll() is None]
            if all(_state_ok(node) and _served_by(node, live) for node in live):
                return
            time.sleep(0.05)  # a cluster we do not control: there is no event to await
        raise TimeoutError("the Redis Cluster did not become healthy")

    def wait_replicas_synced(self, wait_s: float = UP_WAIT_S) -> None:
        deadline = time.monotonic() + wait_s
        while not all(_synced(node) for node in self.nodes):
            if time.monotonic() > deadline:
                raise TimeoutError("the Redis Cluster's replicas did not sync")
            time.sleep(0.05)


def _synced(node: ClusterNode) -> bool:
    info = _info(node, "replication")
    return info.get("role") == "master" or info.get("master_link_status") == "up"


def _info(node: ClusterNode, section: str) -> dict[str, str]:
    try:
        text = node.client().execute_command("INFO", section)
    except redis.RedisError:
        return {}
    if isinstance(text, dict):
        return {str(k): str(v) for k, v in text.items()}
    return dict(line.split(":", 1) for line in text.decode().splitlines() if ":" in line)


def _role(node: ClusterNode) -> str:
    return _info(node, "replication").get("role", "")


def _state_ok(node: ClusterNode) -> bool:
    try:
        info = node.client().cluster("INFO")
    except redis.RedisError:
        return False
    state = info.get("cluster_state") if isinstance(info, dict) else None
    return state == "ok"


def _served_by(node: ClusterNode, live: list[ClusterNode]) -> bool:
    """Every slot, as ``node`` sees it, has a live master."""
    ports = {other.port for other in live}
    try:
        ranges = node.client().execute_command("CLUSTER SLOTS")
    except redis.RedisError:
        return False
    return sum(end - start + 1 for start, end, *_ in ranges) == 16384 and all(
        int(master[1]) in ports for _, _, master, *_ in ranges
    )


def _start_node(directory: Path) -> ClusterNode:
    port, bus_port = free_port(), free_port()
    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            "redis-server",
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--cluster-enabled", "yes",
            "--cluster-port", str(bus_port),
            "--cluster-config-file", str(directory / "nodes.conf"),
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
            "--repl-diskless-sync-delay", "0",  # replicas in sync at once, not after 5 s
            "--cluster-replica-validity-factor", "0",  # a replica may always take over
            "--save", "",
            "--appendonly", "no",
            "--dir", str(directory),
            "--logfile", str(directory / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    node = ClusterNode(port=port, bus_port=bus_port, process=process)
    deadline = time.monotonic() + UP_WAIT_S
    while True:
        try:
            node.client().ping()
            return node
        except redis.RedisError:
            if process.poll() is not None or time.monotonic() > deadline:
                log = directory / "redis.log"
                raise RuntimeError(f"redis-server on {port} did not start: {log}") from None
            time.sleep(0.02)


@contextmanager
def redis_cluster(directory: Path, *, replicas: int = 1) -> Iterator[RedisCluster]:
    """A running cluster of :data:`MASTERS` masters with ``replicas`` replicas each."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        raise RuntimeError("redis-server and redis-cli (7.0 or newer) are needed for the Redis Cluster tests")
    cluster = RedisCluster()
    try:
        for n in range(MASTERS * (1 + replicas)):
            cluster.nodes.append(_start_node(directory / f"node-{n}"))
        subprocess.run(
            ["redis-cli", "--cluster", "create"]
            + [f"127.0.0.1:{node.port}" for node in cluster.nodes]
            + ["--cluster-replicas", str(replicas), "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=UP_WAIT_S,
        )
        cluster.wait_healthy()
        cluster.wait_replicas_synced()
        yield cluster
    finally:
        for node in cluster.nodes:
            if node.process.poll() is None:
                node.kill()
