"""The servers under test, started fresh for each group of scenarios: Parley's production topology
(``parley-cluster``: messages, presence and GATEWAYS gateways as separate processes on the local
PostgreSQL and Redis) and, for comparison, the Node.js peer from ``shared/peer``. Each gets a database
dropped and created for it and its own Redis key prefix; nothing else on the box is touched."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import redis

from .pool import raise_open_files_limit
from .procstat import all_procs

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
PEER_REDIS_URL = "redis://127.0.0.1:6379/5"  # the peer's keys are not prefixed: a database of its own


@dataclass
class Server:
    name: str
    urls: list[str]
    pids: list[tuple[str, int]]  # (label, pid): gateway, messages, presence; or peer
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    redis_keys: tuple[str, tuple[str, ...]] | None = None  # (URL, patterns) of its keys, deleted at stop
    database: str | None = None  # its own, dropped at stop

    @property
    def pid_spec(self) -> str:
        return ",".join(f"{label}:{pid}" for label, pid in self.pids)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # its own session: only what we started
                process.wait()
        if self.redis_keys:
            _forget_redis_keys(*self.redis_keys)
        if self.database:
            drop_database(self.database)


def _forget_redis_keys(url: str, patterns: tuple[str, ...]) -> None:
    client = redis.Redis.from_url(url)
    try:
        for pattern in patterns:
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base_port(offsets: list[int], start: int = 18000) -> int:
    """A port P such that P + each offset is free (another session's servers may hold 8000…)."""
    for base in range(start, 30000, 10):
        if all(_bindable(base + o) for o in offsets):
            return base
    raise RuntimeError("no free ports")


async def _recreate(name: str, admin_url: str) -> None:
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def recreate_database(name: str, admin_url: str = PG_ADMIN) -> None:
    asyncio.run(_recreate(name, admin_url))


async def _drop(name: str, admin_url: str) -> None:
    admin = await asyncpg.connect(admin_url, timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def drop_database(name: str, admin_url: str = PG_ADMIN) -> None:
    asyncio.run(_drop(name, admin_url))


def own_database(base: str) -> str:
    """A database name of this benchmark process: two benchmarks run at once (two sessions on
    one box) must not drop each other's database mid-run."""
    return f"{base}_{os.getpid()}"


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait_ready(
    urls: list[str], processes: list[subprocess.Popen[bytes]], log: Path, wait_s: float = 90.0
) -> None:
    deadline = time.monotonic() + wait_s
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise RuntimeError(f"server exited during start-up; see {log}")
        pending = [u for u in pending if not _ready(u)]
        time.sleep(0.2)
    if pending:
        raise RuntimeError(f"not ready in {wait_s} s: {pending}; see {log}")


def start_parley(gateways: int, secret: str, log_dir: Path, database: str = "parley_bench") -> Server:
    """``make cluster`` on a fresh database, outside DEV_MODE, with warnings-only logs."""
    raise_open_files_limit()  # inherited by the servers
    port = free_base_port([*range(gateways), 100, 101])
    database = own_database(database)
    recreate_database(database)
    prefix = f"parley-bench-{uuid.uuid4().hex[:8]}"
    env = os.environ | {
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "GATEWAYS": str(gateways),
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database}",
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": prefix,
        "JWT_SECRET": secret,
        "INTERNAL_TOKEN": f"bench-internal-{uuid.uuid4().hex}",
        "DEV_MODE": "false",
        "LOG_LEVEL": "WARNING",
        # Every simulated user connects from 127.0.0.1: the per-address cap would stop the
        # 10,000-socket runs at 500 (docs/security.md); per-user caps stay as deployed.
        "MAX_CONNECTIONS_PER_ADDRESS": "1000000",
    }
    log = log_dir / "parley-servers.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "parley_launcher.cluster"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    urls = [f"http://127.0.0.1:{port + i}" for i in range(gateways)]
    try:
        _wait_ready([f"{u}/readyz" for u in urls] + [f"http://127.0.0.1:{port + 100}/readyz"], [process], log)
    except BaseException:
        Server("parley", urls, [], [process], (REDIS_URL, (f"{prefix}*",)), database).stop()
        raise
    children = [(pid, _cmdline(pid)) for pid, (ppid, _, _) in all_procs().items() if ppid == process.pid]
    pids = []
    for pid, cmd in sorted(children):
        for module, label in (
            ("parley_gateway", "gateway"),
            ("parley_messages", "messages"),
            ("parley_presence", "presence"),
        ):
            if module in cmd:
                pids.append((label, pid))
    return Server("parley", urls, pids, [process], (REDIS_URL, (f"{prefix}*",)), database)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def peer_available(shared: Path) -> bool:
    return (
        (shared / "peer" / "server.js").exists()
        and (shared / "peer" / "node_modules").is_dir()
        and bool(shutil.which("node"))
    )


def start_peer(
    instances: int, secret: str, shared: Path, log_dir: Path, database: str = "peer_bench"
) -> Server:
    """``node peer/server.js`` (one process, or several behind its Redis adapter) on a fresh database."""
    raise_open_files_limit()
    port = free_base_port(list(range(instances)), start=13000)
    database = own_database(database)
    recreate_database(database)
    env = os.environ | {
        "JWT_SECRET": secret,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "REDIS_CHANNEL_PREFIX": f"bench-peer-{uuid.uuid4().hex[:8]}",
    }
    if instances > 1:
        env["REDIS_URL"] = PEER_REDIS_URL
    log = log_dir / "peer-servers.log"
    processes = []
    with log.open("ab") as out:
        for i in range(instances):
            processes.append(
                subprocess.Popen(
                    ["node", "peer/server.js"],
                    cwd=shared,
                    env=env | {"PORT": str(port + i)},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    urls = [f"http://127.0.0.1:{port + i}" for i in range(instances)]
    # Its rate-limit and presence keys (rl:*, p:*) are not prefixed: they live in a Redis database of its own.
    keys = (PEER_REDIS_URL, ("rl:*", "p:*")) if instances > 1 else None
    server = Server("peer", urls, [("peer", p.pid) for p in processes], processes, keys, database)
    try:
        _wait_ready([f"{u}/healthz" for u in urls], processes, log)
    except BaseException:
        server.stop()
        raise
    time.sleep(1)  # as run-peer.sh: let its pools and adapter settle
    return server
