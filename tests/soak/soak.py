"""A bounded soak: many connections chatting through two gateways, while the memory, file
descriptors and asyncio tasks of every service process are sampled.

Two rounds on the same cluster. The first (warm-up) connects everyone, sends one message
each and leaves: it fills the pools (database, Redis, HTTP keep-alive) to the size this
load needs. The second connects everyone again and chats for ``seconds``; then everyone
leaves. Nothing may grow from round to round: after the second round's clients have left,
each process holds the file descriptors and tasks it held after the first. Within the
chat, memory must be flat once warmed up.

Connections are lean Socket.IO clients (:mod:`tests.support.lean_socket`); conversations
have ``MEMBERS`` members, spread over both gateways, so every message crosses gateways.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx

from tests.cluster.conftest import Cluster
from tests.support.lean_socket import LeanSocket, Refused
from tests.support.processes import ServiceProcess

MEMBERS = 4
SAMPLE_EVERY_S = 2.0
WARMUP_SHARE = 0.3  # the first part of the chat, while pools and caches fill
CONNECTING_AT_ONCE = 50


@dataclass
class Usage:
    rss_mb: float
    fds: int
    tasks: int


@dataclass
class ProcessFigures:
    idle: Usage
    after_warmup_round: Usage | None = None
    after: Usage | None = None
    chat: list[Usage] = field(default_factory=list)  # sampled while chatting

    @property
    def memory_growth_mb(self) -> float:
        """Median RSS of the last samples minus that of the first ones after warm-up."""
        settled = self.chat[int(len(self.chat) * WARMUP_SHARE) :]
        width = max(1, min(5, len(settled) // 3))
        first = statistics.median(u.rss_mb for u in settled[:width])
        last = statistics.median(u.rss_mb for u in settled[-width:])
        return last - first

    @property
    def peak(self) -> Usage:
        return Usage(
            rss_mb=max(u.rss_mb for u in self.chat),
            fds=max(u.fds for u in self.chat),
            tasks=max(u.tasks for u in self.chat),
        )


@dataclass
class Report:
    connections: int
    seconds: float
    sent: int = 0
    acked: int = 0
    acked_in_warmup_round: int = 0
    delivered: int = 0
    expected_deliveries: int = 0
    duplicates: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    processes: dict[str, ProcessFigures] = field(default_factory=dict)

    def lines(self) -> list[str]:
        rate = (self.acked - self.acked_in_warmup_round) / self.seconds if self.seconds else 0.0
        out = [
            f"[soak] {self.connections} connections, 2 gateways, {self.seconds:.0f} s: "
            f"sent={self.sent} acked={self.acked} ({rate:.0f} msg/s) delivered={self.delivered}/"
            f"{self.expected_deliveries} duplicates={self.duplicates} errors={sum(self.errors.values())}"
            + (f" {dict(self.errors)}" if self.errors else "")
        ]
        for name, figures in self.processes.items():
            peak, after = figures.peak, figures.after
            assert after is not None and figures.after_warmup_round is not None
            out.append(
                f"[soak] {name:10} rss idle {figures.idle.rss_mb:.0f} MB, peak {peak.rss_mb:.0f} MB, "
                f"growth after warm-up {figures.memory_growth_mb:+.1f} MB; "
                f"fds {figures.idle.fds}/{peak.fds}/{figures.after_warmup_round.fds}/{after.fds}, "
                f"tasks {figures.idle.tasks}/{peak.tasks}/{figures.after_warmup_round.tasks}/{after.tasks} "
                "(idle/peak/after warm-up round/after)"
            )
        return out


@dataclass(eq=False)
class Member:
    user_id: str
    conversation_id: str
    gateway: ServiceProcess
    socket: LeanSocket | None = None
    seen: set[str] = field(default_factory=set)  # message ids received live


class Soak:
    def __init__(self, cluster: Cluster, *, connections: int, seconds: float, send_every_s: float) -> None:
        self.cluster = cluster
        self.seconds = seconds
        self.send_every_s = send_every_s
        self.report = Report(connections=connections, seconds=seconds)
        self.members: list[Member] = []
        self._processes = [cluster.messages, *cluster.presence, *cluster.gateways]
        self._http = httpx.AsyncClient(timeout=10)
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self._chatting = False
        self._delivery = asyncio.Event()

    async def run(self) -> Report:
        try:
            await self._create_conversations()
            for process in self._processes:
                self.report.processes[process.name] = ProcessFigures(idle=await self._usage(process))
            await self._round(chat_s=0.0)
            self.report.acked_in_warmup_round = self.report.acked
            for process in self._processes:
                self.report.processes[process.name].after_warmup_round = await self._usage(process)
            await self._round(chat_s=self.seconds)
            for process in self._processes:
                self.report.processes[process.name].after = await self._usage(process)
            self.report.errors["logged errors"] += self._logged_errors()
            self.report.errors.update(await self._refused_events())
            self.report.errors = +self.report.errors  # drop zero counts
        finally:
            await self._session.close()
            await self._http.aclose()
        return self.report

    # ---- set-up --------------------------------------------------------------------------------

    async def _create_conversations(self) -> None:
        suffix = uuid.uuid4().hex[:8]
        count = self.report.connections // MEMBERS
        gateways = self.cluster.gateways

        async def create(n: int) -> None:
            users = [f"soak{n}x{m}-{suffix}" for m in range(MEMBERS)]
            conversation_id = await self.cluster.conversation(users[0], *users[1:])
            for m, user in enumerate(users):
                self.members.append(Member(user, conversation_id, gateways[(n + m) % len(gateways)]))

        await _limited([functools.partial(create, n) for n in range(count)])

    # ---- one round -----------------------------------------------------------------------------

    async def _round(self, *, chat_s: float) -> None:
        """Everyone connects and joins, chats for ``chat_s`` (one message each when 0), leaves."""
        await _limited([functools.partial(self._connect, m) for m in self.members])
        if chat_s:
            self._chatting = True
            sampler = asyncio.create_task(self._sample())
            talkers = [asyncio.create_task(self._chat(m, chat_s)) for m in self.members]
            await asyncio.gather(*talkers)
            self._chatting = False
            await sampler
        else:
            await _limited([functools.partial(self._send, m) for m in self.members])
        await self._deliveries_done()
        for member in self.members:
            if member.socket is None:
                continue
            if member.socket.closed_by_server:
                self.report.errors["disconnected by the server"] += 1
            await member.socket.close()
            member.socket = None
        await self._all_left()

    async def _connect(self, member: Member) -> None:
        token = self.cluster.token(member.user_id)

        def on_event(event: str, data: Any) -> None:
            if event == "message:new":
                self._received(member, data["message"])

        try:
            member.socket = await LeanSocket.connect(self._session, member.gateway.url, token, on_event)
            joined = await member.socket.call("conversation:join", {"conversationId": member.conversation_id})
        except (Refused, TimeoutError, ConnectionError) as exc:
            self.report.errors[f"connect: {type(exc).__name__}"] += 1
            return
        if not joined.get("ok"):
            self.report.errors[f"join: {joined.get('error')}"] += 1

    async def _chat(self, member: Member, chat_s: float) -> None:
        deadline = time.monotonic() + chat_s
        await asyncio.sleep(random.uniform(0, self.send_every_s))  # spread the senders out
        while time.monotonic() < deadline:
            await self._send(member)
            await asyncio.sleep(self.send_every_s)  # the pace of this member, not a synchronisation

    async def _send(self, member: Member) -> None:
        if member.socket is None:
            return  # its connection failed, and was counted
        self.report.sent += 1
        key = str(uuid.uuid4())
        payload = {"conversationId": member.conversation_id, "clientMessageId": key, "body": "hi"}
        try:
            ack = await member.socket.call("message:send", payload)
        except (TimeoutError, ConnectionError) as exc:
            self.report.errors[f"send: {type(exc).__name__}"] += 1
            return
        if ack.get("ok"):
            self.report.acked += 1
            self.report.expected_deliveries += MEMBERS - 1  # everyone but the sending socket
        else:
            self.report.errors[f"send: {ack['error']['code']}"] += 1

    def _received(self, member: Member, message: dict[str, Any]) -> None:
        if message["id"] in member.seen:
            self.report.duplicates += 1
            return
        member.seen.add(message["id"])
        self.report.delivered += 1
        self._delivery.set()

    async def _deliveries_done(self, wait_s: float = 20) -> None:
        """Wait for the deliveries still in flight (a shortfall is reported, not raised)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                while self.report.delivered < self.report.expected_deliveries:
                    self._delivery.clear()
                    await self._delivery.wait()

    async def _all_left(self, wait_s: float = 30) -> None:
        """Every gateway counts no socket, and presence has applied everyone's leave."""
        deadline = time.monotonic() + wait_s
        for gateway in self.cluster.gateways:
            while await self._metric(gateway, "parley_gateway_connected_sockets") > 0:
                assert time.monotonic() < deadline, f"{gateway.name} still holds sockets"
                await asyncio.sleep(0.2)  # disconnects are handled on the server's schedule

    # ---- figures ---------------------------------------------------------------------------------

    async def _sample(self) -> None:
        while self._chatting:
            for process in self._processes:
                self.report.processes[process.name].chat.append(await self._usage(process))
            await asyncio.sleep(SAMPLE_EVERY_S)  # the sampling period

    async def _usage(self, process: ServiceProcess) -> Usage:
        assert process.process is not None
        rss_mb, fds = _rss_mb_and_fds(process.process.pid)
        tasks = int(await self._metric(process, "parley_asyncio_tasks"))
        return Usage(rss_mb=rss_mb, fds=fds, tasks=tasks)

    async def _metric(self, process: ServiceProcess, name: str) -> float:
        text = (await self._http.get(process.metrics_url)).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " "))

    async def _refused_events(self) -> Counter[str]:
        """Client events the gateways answered with an error (their own count, /metrics)."""
        refused: Counter[str] = Counter()
        for gateway in self.cluster.gateways:
            text = (await self._http.get(gateway.metrics_url)).text
            for line in text.splitlines():
                if line.startswith("parley_gateway_events_total{") and 'outcome="ok"' not in line:
                    labels, value = line.rsplit(" ", 1)
                    if float(value):
                        refused[f"gateway answered {labels.partition('{')[2][:-1]}"] += int(float(value))
        return refused

    def _logged_errors(self) -> int:
        logs = (p.log_path.read_text(errors="replace") for p in self._processes)
        return sum(text.count('"level": "ERROR"') for text in logs)


def _rss_mb_and_fds(pid: int) -> tuple[float, int]:
    """Resident memory and open file descriptors, as the kernel counts them (/proc)."""
    with open(f"/proc/{pid}/status") as status:
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd"))


async def _limited(jobs: list[Callable[[], Awaitable[None]]]) -> None:
    """Run the coroutine factories ``jobs``, at most CONNECTING_AT_ONCE at a time."""
    pending = iter(jobs)

    async def lane() -> None:
        for job in pending:
            await job()

    await asyncio.gather(*(lane() for _ in range(CONNECTING_AT_ONCE)))
