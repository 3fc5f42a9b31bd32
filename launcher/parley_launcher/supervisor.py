"""Supervision of ``make cluster``'s processes: each is kept running, as Kubernetes keeps a pod.

Policy:

- A process that exits while the cluster runs (a crash, ``kill -9``, the OOM killer, even
  exit status 0) is started again after a back-off of 0.5 s, doubling up to 5 s, and back
  to 0.5 s once a run has lasted 30 s (:meth:`RestartPolicy.delay`). The others keep
  running. Each exit is printed with its status and the process's restart count.
- A process is *up* once its ``/healthz`` answers: uvicorn opens the port only after the
  app's start-up. One that exits before that failed at start-up; after
  ``give_up_after`` such failures in a row it is not started again: the launcher prints
  its last log lines, and the others keep running (with none left, the launcher exits 1).
- Ctrl-C or SIGTERM stops everything in order: the gateways first (SIGTERM: they drain and
  close their sockets, whose disconnects still reach presence), then messages and presence.
  A process that has not exited after ``stop_timeout_s`` is killed; a second Ctrl-C kills
  at once.

The children run in their own session, so a Ctrl-C in the terminal reaches the launcher
alone and the order above holds; the kernel sends them SIGTERM if the launcher dies
(``PR_SET_PDEATHSIG``), so a ``kill -9`` of the launcher leaves no orphan serving.
Their output is printed line by line, prefixed with their name.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import signal
import sys
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx

LAST_LINES = 20
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class RestartPolicy:
    first_delay_s: float = 0.5
    max_delay_s: float = 5.0
    reset_after_s: float = 30.0  # a run this long was healthy: the back-off starts over
    give_up_after: int = 5  # start-up failures in a row
    stop_timeout_s: float = 30.0  # a gateway's drain (DRAIN_TIMEOUT_S, 10 s) fits in it

    def delay(self, previous_s: float | None, ran_s: float) -> float:
        """The wait before the next start, given the previous wait and how long the run lasted."""
        if previous_s is None or ran_s >= self.reset_after_s:
            return self.first_delay_s
        return min(previous_s * 2, self.max_delay_s)


@dataclass(frozen=True)
class Program:
    """One process to keep running: ``python -m module`` serving ``/healthz`` on ``port``."""

    name: str
    module: str
    port: int
    env: dict[str, str]
    stop_first: bool = False  # stopped before the others (the gateways)
    probe_host: str = "127.0.0.1"


def describe(status: int) -> str:
    """How a process ended, from its return code."""
    if status < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-status).name}"
    return f"exited with status {status}"


@dataclass
class Child:
    program: Program
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    gave_up: bool = False
    last_lines: deque[str] = field(default_factory=lambda: deque(maxlen=LAST_LINES))
    copying: asyncio.Task[None] | None = None  # its output to ours
    first_up: asyncio.Event = field(default_factory=asyncio.Event)


class Supervisor:
    def __init__(
        self, programs: Sequence[Program], *, policy: RestartPolicy | None = None, out: TextIO = sys.stdout
    ) -> None:
        self.children = [Child(program) for program in programs]
        self.policy = policy or RestartPolicy()
        self._out = out
        self._stop_first = asyncio.Event()
        self._stop_rest = asyncio.Event()
        self._kill_now = asyncio.Event()
        self._stopping = False

    def say(self, line: str) -> None:
        print(f"{'launcher':<10} | {line}", file=self._out, flush=True)

    async def run(self, on_up: Callable[[], None] | None = None) -> int:
        """Keep every program running until :meth:`stop` (or until every one gave up), calling
        ``on_up`` once all are up the first time; the launcher's exit status."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stop)
        keepers = {asyncio.create_task(self._keep(c), name=c.program.name): c for c in self.children}
        everyone = asyncio.gather(*keepers)
        announce = asyncio.create_task(self._when_all_up(on_up))
        stopping = asyncio.create_task(self._stop_first.wait())
        try:
            either: list[asyncio.Future[Any]] = [everyone, stopping]
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if not everyone.done():
                await asyncio.gather(*(t for t, c in keepers.items() if c.program.stop_first))
                self._stop_rest.set()
            await everyone
        finally:
            announce.cancel()
            stopping.cancel()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        counts = ", ".join(f"{c.program.name} {c.restarts}" for c in self.children if c.restarts)
        self.say(f"stopped; restarts: {counts or 'none'}")
        return 1 if any(child.gave_up for child in self.children) else 0

    def stop(self) -> None:
        """Stop everything, gateways first (a second call kills what is left)."""
        if self._stopping:
            self.say("stopping now: killing what is left")
            self._kill_now.set()
            return
        self._stopping = True
        self.say("stopping: the gateways first, then messages and presence")
        self._stop_first.set()

    def _stop_event(self, child: Child) -> asyncio.Event:
        return self._stop_first if child.program.stop_first else self._stop_rest

    async def _when_all_up(self, on_up: Callable[[], None] | None) -> None:
        await asyncio.gather(*(child.first_up.wait() for child in self.children))
        if on_up is not None:
            on_up()

    async def _keep(self, child: Child) -> None:
        """Run ``child`` again and again until its turn to stop, or until it keeps failing."""
        stop = self._stop_event(child)
        delay: float | None = None
        failures = 0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            process = await self._spawn(child)
            exited = asyncio.create_task(process.wait())
            up = await self._until_up(child, stop, exited)
            if up:
                self.say(f"{child.program.name} is up (pid {process.pid}, restarts {child.restarts})")
                child.first_up.set()
            if await _first_of(exited, stop):
                await self._terminate(child, exited)
                return
            status = exited.result()
            if child.copying is not None:
                await child.copying  # its last lines, before they are reported
            ran_s = loop.time() - started
            failures = 0 if up else failures + 1
            if failures >= self.policy.give_up_after:
                self._give_up(child, status, failures)
                return
            delay = self.policy.delay(delay, ran_s)
            child.restarts += 1
            self.say(
                f"{child.program.name} (pid {process.pid}) {describe(status)} after "
                f"{ran_s:.1f} s{'' if up else ', during start-up'}; restart {child.restarts} in {delay:g} s"
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _spawn(self, child: Child) -> asyncio.subprocess.Process:
        program = child.program
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            program.module,
            env=program.env | {"PORT": str(program.port)},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        child.process = process
        assert process.stdout is not None
        child.copying = asyncio.create_task(self._copy_output(child, process.stdout))
        self.say(f"{program.name} started (pid {process.pid}, port {program.port})")
        return process

    async def _copy_output(self, child: Child, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip("\n")
            child.last_lines.append(text)
            print(f"{child.program.name:<10} | {text}", file=self._out, flush=True)

    async def _until_up(self, child: Child, stop: asyncio.Event, exited: asyncio.Task[int]) -> bool:
        """Whether ``/healthz`` answered before the process exited (or its turn to stop came)."""
        program = child.program
        url = f"http://{program.probe_host}:{program.port}/healthz"
        async with httpx.AsyncClient(timeout=1) as http:
            while not stop.is_set() and not exited.done():
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url)).status_code == 200:
                        return True
                # Another process's start-up: there is nothing to await but its port.
                await asyncio.sleep(0.1)
        return False

    async def _terminate(self, child: Child, exited: asyncio.Task[int]) -> None:
        process = child.process
        assert process is not None
        if not exited.done():
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            done, _ = await asyncio.wait(
                [exited, asyncio.create_task(self._kill_now.wait())],
                timeout=self.policy.stop_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if exited not in done:
                self.say(f"{child.program.name} (pid {process.pid}) did not stop: killing it")
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        status = await exited
        self.say(f"{child.program.name} stopped: it {describe(status)}")

    def _give_up(self, child: Child, status: int, failures: int) -> None:
        child.gave_up = True
        lines = "\n".join(f"    {line}" for line in child.last_lines) or "    (it printed nothing)"
        self.say(
            f"{child.program.name} failed at start-up {failures} times in a row (the last time it "
            f"{describe(status)}); not starting it again. Its last lines:\n{lines}"
        )


async def _first_of(task: asyncio.Task[int], event: asyncio.Event) -> bool:
    """Wait for ``task`` or ``event``; whether the event came (first)."""
    waiting = asyncio.create_task(event.wait())
    try:
        await asyncio.wait([task, waiting], return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
    return event.is_set()


_libc_prctl: Callable[..., int] | None = None
if sys.platform == "linux":
    _name = ctypes.util.find_library("c")
    if _name:
        _libc_prctl = ctypes.CDLL(_name, use_errno=True).prctl


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the launcher dies (Linux only)."""
    if _libc_prctl is not None:
        _libc_prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
