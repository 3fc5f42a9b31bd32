"""What an attacker runs against a gateway process, and how the process is watched meanwhile.

Everything here speaks raw HTTP or raw WebSocket frames on the loopback: HTTP clients
resolve ``..`` and read what they are sent, and an attacker does neither.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
from websockets.frames import Frame, Opcode

from tests.support.processes import ServiceProcess


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():  # procfs: no disk wait
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def tasks_of(process: ServiceProcess) -> int:
    """The process's asyncio tasks, as its /metrics counts them."""
    return int(await metric(process, "parley_asyncio_tasks"))


async def metric(process: ServiceProcess, name: str) -> float:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(process.metrics_url)).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.split(" ")[0] == name)


@dataclass
class Watch:
    """The most memory a process held while a ``watching`` block ran."""

    pid: int
    before_mb: float
    peak_mb: float = 0.0
    samples: list[float] = field(default_factory=list)

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - self.before_mb


@asynccontextmanager
async def watching(process: ServiceProcess, every_s: float = 0.1) -> AsyncIterator[Watch]:
    assert process.process is not None
    watch = Watch(pid=process.process.pid, before_mb=rss_mb(process.process.pid))

    async def sample() -> None:
        while True:
            watch.samples.append(rss_mb(watch.pid))
            watch.peak_mb = max(watch.samples)
            await asyncio.sleep(every_s)  # a sampling period, not a wait for an event

    sampler = asyncio.create_task(sample())
    try:
        yield watch
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        watch.samples.append(rss_mb(watch.pid))
        watch.peak_mb = max(watch.samples)


async def until(check: Callable[[], Awaitable[bool]], *, wait_s: float = 20.0) -> None:
    """Poll an async predicate of a process we do not control (there is no event to await)."""
    deadline = time.monotonic() + wait_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{check} did not hold in {wait_s} s")
        await asyncio.sleep(0.1)


# ---- HTTP, byte for byte -----------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


async def raw_request(
    port: int, method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None
) -> Answer:
    """One HTTP/1.1 request sent exactly as given, on a connection of its own."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    fields = {"Host": f"127.0.0.1:{port}", "Content-Length": str(len(body)), "Connection": "close"}
    fields |= headers or {}
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    try:
        writer.write(head.encode() + body)
        answer = await reader.read()
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    header_block, _, payload = rest.partition(b"\r\n\r\n")
    parsed = {}
    for line in header_block.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), parsed, payload)


async def polling_session(http: httpx.AsyncClient, headers: dict[str, str] | None = None) -> str:
    """A new Engine.IO long-polling session (no token): its sid."""
    answer = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"}, headers=headers)
    assert answer.status_code == 200, answer.text
    sid: str = orjson.loads(answer.text[1:])["sid"]
    return sid


# ---- a WebSocket that never reads --------------------------------------------------------


class DeafWebSocket:
    """A Socket.IO client over a raw WebSocket that writes and, past the handshake, never
    reads a byte: what the gateway sends it piles up. Its receive buffer is made small so
    that the kernel holds little of it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._ids = 0

    @classmethod
    async def connect(cls, port: int, token: str) -> DeafWebSocket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        deaf = cls(reader, writer)
        await deaf.send("40" + orjson.dumps({"token": token}).decode())
        return deaf

    async def send(self, text: str) -> None:
        self._writer.write(Frame(Opcode.TEXT, text.encode()).serialize(mask=True, extensions=[]))
        await self._writer.drain()

    async def emit(self, event: str, payload: object) -> None:
        """An event with an ack id (whose ack it will never read)."""
        self._ids += 1
        await self.send(f"42{self._ids}" + orjson.dumps([event, payload]).decode())

    async def pong(self) -> None:
        """An unrequested pong: the link looks alive, whatever the server sent."""
        await self.send("3")

    def close(self) -> None:
        self._writer.close()
