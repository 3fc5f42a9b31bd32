"""Throwaway Redis and PostgreSQL servers of one test module, to restart at will.

The shared servers (REDIS_URL, DATABASE_URL) serve other tests at the same time and must
never be restarted; these are private: their own port, their own data directory, gone
at the end. ``restart()`` is a crash and a start on the same port: Redis comes back empty
(no persistence), PostgreSQL runs crash recovery and keeps every committed transaction.

PostgreSQL refuses to run as root, so as root its programs run as the ``postgres`` OS
user (``runuser``), in a directory that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from tests.support.ports import free_port

START_WAIT_S = 20.0


class Unavailable(RuntimeError):
    """The server's programs are not installed here."""


def _poll(ready: Callable[[], bool], what: str, wait_s: float = START_WAIT_S) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)  # a server we do not control: there is no event to await
    raise TimeoutError(f"{what} did not start in {wait_s} s")


class PrivateRedis:
    """``redis-server`` on a free port, without persistence: a restart loses everything."""

    def __init__(self, directory: Path) -> None:
        if shutil.which("redis-server") is None:
            raise Unavailable("redis-server is not installed")
        self.port = free_port()
        self._directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> PrivateRedis:
        self._directory.mkdir(parents=True, exist_ok=True)
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self._directory)]
        log = (self._directory / "redis.log").open("ab")
        self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        _poll(self._answers, f"redis-server on {self.port}")
        return self

    def _answers(self) -> bool:
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        """``kill -9``: every connection drops, all state is gone."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait()

    def restart(self) -> None:
        self.kill()
        self.start()


class PrivatePostgres:
    """A PostgreSQL cluster of its own (``initdb``), on a free port, trust authentication."""

    def __init__(self) -> None:
        self._bin = _postgres_bin()
        self.port = free_port()
        self._root = Path(tempfile.mkdtemp(prefix="parley-pg-"))
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self._root, "postgres", "postgres")
        self._data = self._root / "data"
        try:
            self._run("initdb", "-D", str(self._data), "-A", "trust", "-U", "postgres", "--no-sync")
        except BaseException:
            shutil.rmtree(self._root, ignore_errors=True)
            raise

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self._bin / program), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stdout.decode()}{done.stderr.decode()}")

    def start(self) -> PrivatePostgres:
        # fsync off: a test cluster on one machine; a PostgreSQL crash (not the OS's) loses
        # nothing committed either way, since commits are written to the OS before returning.
        options = f"-p {self.port} -k {self._root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self._root / "log")
        self._run("pg_ctl", "-D", str(self._data), "-o", options, "-l", log, "-w", "start")
        return self

    def crash(self) -> None:
        """Stop at once (``-m immediate``: no checkpoint, connections cut)."""
        self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        """An operator's stop (``-m fast``): sessions are terminated, then a checkpoint."""
        self._run("pg_ctl", "-D", str(self._data), "-m", "fast", "-w", "stop")

    @property
    def running(self) -> bool:
        return (self._data / "postmaster.pid").exists()

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            if self.running:
                self.crash()
        shutil.rmtree(self._root, ignore_errors=True)


def _postgres_bin() -> Path:
    configured = os.environ.get("PG_BIN")
    candidates = [configured] if configured else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise Unavailable("PostgreSQL's initdb is not installed (set PG_BIN to its folder)")
