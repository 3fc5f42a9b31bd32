"""A real Redis Sentinel deployment on this machine, started by the tests: a master, a
replica of it, and three sentinels (quorum 2) with a short ``down-after-milliseconds``, so a
killed master is replaced within seconds. Nothing is kept on disk but the sentinels' own
config files (they rewrite them), in the test's temp dir."""

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

MASTER_NAME = "parley"
SENTINELS = 3
DOWN_AFTER_MS = 1000  # how long a silent master goes before the sentinels fail it over
FAILOVER_TIMEOUT_MS = 5000
UP_WAIT_S = 30.0


@dataclass
class Process:
    port: int
    process: subprocess.Popen[bytes]

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def alive(self) -> bool:
        return self.process.poll() is None


@dataclass
class SentinelDeployment:
    nodes: list[Process] = field(default_factory=list)  # the master first, then its replica
    sentinels: list[Process] = field(default_factory=list)

    @property
    def sentinel_addresses(self) -> str:
        """REDIS_SENTINELS"""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def master(self) -> Process:
        """The node the live sentinels name as master now."""
        ports = {self._named_master(s) for s in self.sentinels if s.alive()}
        ports.discard(None)
        if len(ports) != 1:
            raise LookupError(f"the sentinels do not agree on a master: {ports}")
        [port] = ports
        return next(node for node in self.nodes if node.port == port)

    def wait_failed_over(self, old: Process, wait_s: float = UP_WAIT_S) -> Process:
        """Until every sentinel names a live master other than ``old``, which says so itself."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                master = self.master()
                if master is not old and master.alive() and _role(master) == "master":
                    return master
            except LookupError:
                pass
            time.sleep(0.05)  # sentinels we do not control: there is no event to await
        raise TimeoutError("the sentinels did not fail the master over")

    def wait_ready(self, wait_s: float = UP_WAIT_S) -> None:
        """The replica in sync, and every sentinel knowing the replica and the other sentinels."""
        deadline = time.monotonic() + wait_s
        while not self._ready():
            if time.monotonic() > deadline:
                raise TimeoutError("the Sentinel deployment did not become ready")
            time.sleep(0.05)

    def _ready(self) -> bool:
        replica = self.nodes[1]
        if _info(replica).get("master_link_status") != "up":
            return False
        for sentinel in self.sentinels:
            try:
                state = sentinel.client().execute_command("SENTINEL", "MASTER", MASTER_NAME)
            except redis.RedisError:
                return False
            fields = dict(zip(state[::2], state[1::2], strict=False)) if isinstance(state, list) else state
            fields = {_text(k): _text(v) for k, v in fields.items()}
            if (
                int(fields.get("num-slaves", 0)) < 1
                or int(fields.get("num-other-sentinels", 0)) < SENTINELS - 1
            ):
                return False
        return True

    @staticmethod
    def _named_master(sentinel: Process) -> int | None:
        try:
            address = sentinel.client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
        except redis.RedisError:
            return None
        return int(address[1]) if address else None


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _info(node: Process) -> dict[str, str]:
    try:
        text = node.client().execute_command("INFO", "replication")
    except redis.RedisError:
        return {}
    if isinstance(text, dict):
        return {str(k): str(v) for k, v in text.items()}
    return dict(line.split(":", 1) for line in text.decode().splitlines() if ":" in line)


def _role(node: Process) -> str:
    return _info(node).get("role", "")


def _start(args: list[str], port: int, log: Path) -> Process:
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    started = Process(port=port, process=process)
    deadline = time.monotonic() + UP_WAIT_S
    while True:
        try:
            started.client().ping()
            return started
        except redis.RedisError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} on {port} did not start: {log}") from None
            time.sleep(0.02)


def _start_node(directory: Path, replica_of: int | None) -> Process:
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    args = [
        "redis-server",
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--repl-diskless-sync-delay", "0",  # the replica in sync at once, not after 5 s
        "--save", "",
        "--appendonly", "no",
        "--dir", str(directory),
        "--logfile", str(directory / "redis.log"),
    ]  # fmt: skip
    if replica_of is not None:
        args += ["--replicaof", "127.0.0.1", str(replica_of)]
    return _start(args, port, directory / "redis.log")


def _start_sentinel(directory: Path, master_port: int) -> Process:
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "sentinel.conf"
    config.write_text(
        f"port {port}\n"
        "bind 127.0.0.1\n"
        f"dir {directory}\n"
        f"logfile {directory / 'sentinel.log'}\n"
        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n"
        f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
        f"sentinel parallel-syncs {MASTER_NAME} 1\n"
    )
    return _start(["redis-server", str(config), "--sentinel"], port, directory / "sentinel.log")


@contextmanager
def redis_sentinel(directory: Path) -> Iterator[SentinelDeployment]:
    """A running master, its replica and :data:`SENTINELS` sentinels watching them."""
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is needed for the Redis Sentinel tests")
    deployment = SentinelDeployment()
    try:
        master = _start_node(directory / "master", None)
        deployment.nodes.append(master)
        deployment.nodes.append(_start_node(directory / "replica", master.port))
        for n in range(SENTINELS):
            deployment.sentinels.append(_start_sentinel(directory / f"sentinel-{n}", master.port))
        deployment.wait_ready()
        yield deployment
    finally:
        for process in deployment.nodes + deployment.sentinels:
            if process.alive():
                process.kill()
