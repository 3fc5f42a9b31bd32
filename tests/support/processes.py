"""Parley services as real OS processes, for multi-instance and fault tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.ports import free_port

# A bound, not a pause: a process is used as soon as it answers. Wide, because on a loaded
# 2-core machine a service's imports alone were seen to take over 30 s.
READY_WAIT_S = 90.0


class ServiceProcess:
    """One service (``parley_messages``, ``parley_gateway``, …) on its own port."""

    def __init__(self, module: str, *, port: int, env: dict[str, str], log_dir: Path, name: str) -> None:
        self.module = module
        self.port = port
        self.metrics_port = free_port()
        self.env = {
            **os.environ,
            **env,
            "PORT": str(port),
            "METRICS_PORT": str(self.metrics_port),
            "HOST": "127.0.0.1",
        }
        self.log_path = log_dir / f"{name}.log"
        self.name = name
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        """Its ``/metrics`` (on METRICS_PORT, apart from the public port)."""
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self) -> ServiceProcess:
        self.launch()
        self.wait_ready()
        return self

    async def start_async(self) -> ServiceProcess:
        """:meth:`start` for a test whose clients share the event loop: waiting in it would
        stop them answering pings, and a slow start-up then drops their sockets."""
        self.launch()
        deadline = time.monotonic() + READY_WAIT_S
        async with httpx.AsyncClient(timeout=1) as http:
            while time.monotonic() < deadline:
                self._check_alive()
                try:
                    if (await http.get(f"{self.url}/readyz")).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)  # a process we do not control: no event to await
        raise TimeoutError(f"{self.name} not ready in {READY_WAIT_S} s:\n{self.logs()}")

    def launch(self) -> None:
        """Start the process without waiting for it to be ready (see :func:`start_all`)."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_WAIT_S
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling a process we do not control: there is no event to await
        raise TimeoutError(f"{self.name} not ready in {READY_WAIT_S} s:\n{self.logs()}")

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.logs()}")

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def kill(self) -> None:
        """``kill -9``: no drain, no clean disconnects."""
        self.signal(signal.SIGKILL)
        self.wait()

    def wait(self, timeout_s: float = 30) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout_s)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def terminate(self) -> None:
        """SIGTERM without waiting (see :func:`stop_all`)."""
        if self.running:
            self.signal(signal.SIGTERM)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


def start_all(processes: list[ServiceProcess]) -> None:
    """Start them side by side and wait until each is ready (a start-up is mostly imports)."""
    for process in processes:
        process.launch()
    for process in processes:
        process.wait_ready()


def stop_all(processes: list[ServiceProcess]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.stop()
