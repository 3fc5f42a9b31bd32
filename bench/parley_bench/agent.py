"""The sockets of one process (the only one, or one of ``--workers``) and the commands the
coordinator sends it. Scenario modules register their own commands with ``@command``."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .api import each_limited
from .options import Options
from .sio import ConnectRefused, SioSocket
from .stats import Samples, add_counts
from .tokens import mint

Command = Callable[..., Awaitable[Any]]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        return fn

    return register


async def wait_until(done: Callable[[], bool], deadline: float, step_s: float = 0.02) -> None:
    """Poll ``done()`` until it holds or ``deadline`` (perf_counter) passes: counts kept by callbacks."""
    while time.perf_counter() < deadline:
        if done():
            return
        await asyncio.sleep(step_s)


@dataclass
class User:
    id: str
    conv: str
    url: str
    idx: int
    sock: SioSocket | None = None


class LagProbe:
    """How late the event loop wakes a 10 ms timer: a busy or starved load generator shows here."""

    def __init__(self) -> None:
        self.samples = Samples()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.samples = Samples()
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    def take(self) -> Samples:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        samples, self.samples = self.samples, Samples()
        return samples

    async def _run(self) -> None:
        while True:
            due = time.perf_counter() + 0.01
            await asyncio.sleep(0.01)
            self.samples.push((time.perf_counter() - due) * 1000)


@dataclass
class Agent:
    opt: Options
    index: int = 0  # which worker
    users: list[User] = field(default_factory=list)
    presence_events: int = 0
    lag: LagProbe = field(default_factory=LagProbe)
    state: dict[str, Any] = field(default_factory=dict)  # per scenario
    _session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, force_close=False)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def token(self, sub: str) -> str:
        return mint(sub, self.opt.secret, self.opt.token_ttl, self.opt.iss, self.opt.aud)

    async def open(self, url: str, token: str) -> SioSocket:
        return await SioSocket.open(self.session, url, {"token": token}, self.opt.connect_timeout / 1000)

    async def aclose(self) -> None:
        await asyncio.gather(*(u.sock.close() for u in self.users if u.sock), return_exceptions=True)
        if self._session is not None:
            await self._session.close()


@command("pid")
async def pid(agent: Agent) -> int:
    return os.getpid()


RETRYABLE = ("unavailable", "internal", "timeout")  # PROTOCOL §3: retry with backoff
JOIN_ATTEMPTS = 4


@command("rooms.join")
async def rooms_join(
    agent: Agent, users: list[tuple[str, str, str, int]], inflight: int, on_ready: str | None = None
) -> dict[str, int]:
    """Connect one socket per user and join its conversation (a join answered ``unavailable`` is retried
    after 0.5, 1, 2 s, as a client would; each retry counts as ``retry:<code>``); returns the failures
    and retries by reason."""
    agent.users = [User(*u) for u in users]
    failures: dict[str, int] = {}
    hook = COMMANDS.get(on_ready or "")

    def count_presence(_: Any) -> None:
        agent.presence_events += 1

    async def one(user: User) -> None:
        try:
            sock = await agent.open(user.url, agent.token(user.id))
        except ConnectRefused as exc:
            add_counts(failures, {str(exc): 1})
            return
        sock.handlers["user:online"] = count_presence
        if hook is not None:
            await hook(agent, user=user, sock=sock)
        for attempt in range(JOIN_ATTEMPTS):
            ack = await sock.call("conversation:join", {"conversationId": user.conv}, 30)
            if ack.get("ok"):
                user.sock = sock
                return
            code = (ack.get("error") or {}).get("code")
            if code not in RETRYABLE or attempt == JOIN_ATTEMPTS - 1:
                break
            add_counts(failures, {f"retry:{code}": 1})
            await asyncio.sleep(0.5 * 2**attempt)
        add_counts(failures, {f"join:{code}": 1})
        await sock.close()

    await each_limited(agent.users, inflight, one)
    return failures


@command("rooms.presence")
async def rooms_presence(agent: Agent) -> int:
    return agent.presence_events


@command("close")
async def close(agent: Agent) -> None:
    await agent.aclose()
