"""``make cluster``'s own launcher (``python -m parley_launcher.cluster``) as a real process,
its output read line by line so that a test can wait for what it says."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.cluster.conftest import INTERNAL_TOKEN, SECRET, Cluster
from tests.support.ports import free_port_block
from tests.support.processes import ServiceProcess

UP = re.compile(r"^launcher +\| (?P<name>\S+) is up \(pid (?P<pid>\d+), restarts (?P<restarts>\d+)\)")
STOPPED = re.compile(r"^launcher +\| (?P<name>\S+) stopped: it (?P<how>.*)$")


class Launcher:
    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.lines: list[str] = []
        self._new_line = asyncio.Event()
        self._reading = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.lines.append(line.decode(errors="replace").rstrip("\n"))
            self._new_line.set()

    async def line(
        self, pattern: re.Pattern[str], *, start: int = 0, wait_s: float = 30
    ) -> tuple[int, re.Match[str]]:
        """The first line from index ``start`` on that matches ``pattern``, and its index
        (waiting for it)."""
        try:
            async with asyncio.timeout(wait_s):
                return await self._next_line(pattern, start)
        except TimeoutError:
            raise AssertionError(f"no {pattern.pattern!r} in {wait_s} s:\n{self.output}") from None

    async def _next_line(self, pattern: re.Pattern[str], seen: int) -> tuple[int, re.Match[str]]:
        while True:
            for n in range(seen, len(self.lines)):
                if found := pattern.search(self.lines[n]):
                    return n, found
            seen = len(self.lines)
            if self._reading.done():
                raise AssertionError(
                    f"the launcher ended without printing {pattern.pattern!r}:\n{self.output}"
                )
            self._new_line.clear()
            await self._new_line.wait()

    async def up(self, name: str, *, start: int = 0, wait_s: float = 30) -> int:
        """The pid of ``name`` once the launcher reports it up (from line ``start`` on)."""
        pattern = re.compile(rf"^launcher +\| {re.escape(name)} is up \(pid (?P<pid>\d+)")
        _, found = await self.line(pattern, start=start, wait_s=wait_s)
        return int(found["pid"])

    def index(self, pattern: re.Pattern[str], name: str) -> int:
        """Where the launcher's line matching ``pattern`` for ``name`` is (-1: none)."""
        for n, line in enumerate(self.lines):
            if (found := pattern.search(line)) and found["name"] == name:
                return n
        return -1

    async def ended(self, *, wait_s: float = 40) -> int:
        async with asyncio.timeout(wait_s):
            status = await self.process.wait()
            await self._reading
        return status

    @property
    def output(self) -> str:
        return "\n".join(self.lines[-200:])

    def cluster(self, log_dir: Path) -> Cluster:
        """The processes it runs, as the cluster tests' helpers address them (by port)."""

        def at(name: str, module: str, port: int) -> ServiceProcess:
            return ServiceProcess(module, port=port, env={}, log_dir=log_dir, name=name)

        return Cluster(
            messages=at("messages", "parley_messages", self.port + 100),
            presence=[at("presence", "parley_presence", self.port + 101)],
            gateways=[at(f"gateway-{n + 1}", "parley_gateway", self.port + n) for n in range(2)],
            env={},
            log_dir=log_dir,
        )


def free_base_port() -> int:
    """A PORT whose PORT, PORT+1, PORT+100 and PORT+101 are all free (the plan's ports)."""
    return free_port_block([0, 1, 100, 101])


@asynccontextmanager
async def launched(*, postgres_url: str, redis_url: str, **env: str) -> AsyncIterator[Launcher]:
    """``parley-cluster`` with two gateways on the session's database and its own Redis
    keyspace, killed at the end if the test did not stop it."""
    port = free_base_port()
    environ = (
        os.environ
        | {
            "PORT": str(port),
            "GATEWAYS": "2",
            "DEV_MODE": "false",
            "JWT_SECRET": SECRET,
            "INTERNAL_TOKEN": INTERNAL_TOKEN,
            "DATABASE_URL": postgres_url,
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": f"parley-test-{uuid.uuid4().hex[:10]}",
            "METRICS_PORT": "0",
            "LOG_FORMAT": "text",
        }
        | env
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "parley_launcher.cluster",
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    launcher = Launcher(process, port)
    try:
        yield launcher
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await launcher.ended(wait_s=40)
            except TimeoutError:
                # Its children get SIGTERM from the kernel when it dies (PR_SET_PDEATHSIG).
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        launcher._reading.cancel()
