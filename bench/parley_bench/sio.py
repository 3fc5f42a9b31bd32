"""A minimal Socket.IO v5 / Engine.IO v4 client over one aiohttp WebSocket: what a load generator
needs for thousands of sockets, nothing more (no polling, no reconnection, no binary packets).

Engine.IO packets are text frames: ``0{...}`` open, ``2``/``3`` ping/pong, ``1`` close, ``4…`` a
Socket.IO packet: ``40{...}`` connected, ``44{...}`` connect_error, ``41`` disconnect,
``42<id>["event", data]`` an event, ``43<id>[data]`` an ack.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

AckCallback = Callable[[Any], None]
EventHandler = Callable[[Any], None]


class ConnectRefused(Exception):
    """The server answered CONNECT with connect_error (``auth_invalid``…), or the transport failed."""


def socket_url(base: str) -> str:
    parts = urlsplit(base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}/socket.io/?EIO=4&transport=websocket"


class SioSocket:
    """One connected socket. ``handlers[event](data)`` is called for each server event;
    ``on_close(reason)`` once when the link ends."""

    __slots__ = ("_acks", "_next_id", "_reader", "connected", "handlers", "on_close", "ws")

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.handlers: dict[str, EventHandler] = {}
        self.on_close: Callable[[str], None] | None = None
        self.connected = True
        self._acks: dict[int, AckCallback] = {}
        self._next_id = 0
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, session: aiohttp.ClientSession, url: str, auth: dict[str, Any], timeout_s: float
    ) -> SioSocket:
        """Transport, Engine.IO OPEN, Socket.IO CONNECT with ``auth``; raises ConnectRefused."""
        try:
            async with asyncio.timeout(timeout_s):
                ws = await session.ws_connect(
                    socket_url(url), autoping=True, heartbeat=None, compress=0, max_msg_size=0
                )
                try:
                    opened = await ws.receive()
                    if opened.type is not aiohttp.WSMsgType.TEXT or not opened.data.startswith("0"):
                        raise ConnectRefused(f"no engine.io open: {opened.type.name}")
                    await ws.send_str("40" + orjson.dumps(auth).decode())
                    while True:
                        msg = await ws.receive()
                        if msg.type is not aiohttp.WSMsgType.TEXT:
                            raise ConnectRefused(f"closed during connect: {msg.type.name}")
                        if msg.data == "2":
                            await ws.send_str("3")
                        elif msg.data.startswith("40"):
                            break
                        elif msg.data.startswith("44"):
                            error = orjson.loads(msg.data[2:] or "{}")
                            raise ConnectRefused(str(error.get("message", "connect_error")))
                except BaseException:
                    await ws.close()
                    raise
        except TimeoutError as exc:
            raise ConnectRefused("timeout") from exc
        except aiohttp.ClientError as exc:
            raise ConnectRefused(type(exc).__name__) from exc
        sock = cls(ws)
        sock._reader = asyncio.create_task(sock._read())
        return sock

    async def emit(self, event: str, data: Any, on_ack: AckCallback | None = None) -> None:
        if on_ack is None:
            await self.ws.send_str("42" + orjson.dumps([event, data]).decode())
            return
        self._next_id += 1
        self._acks[self._next_id] = on_ack
        await self.ws.send_str(f"42{self._next_id}" + orjson.dumps([event, data]).decode())

    async def call(self, event: str, data: Any, timeout_s: float) -> Any:
        """Emit and wait for the ack (``{"ok": False, "error": {"code": "timeout"}}`` past timeout_s)."""
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def settle(value: Any) -> None:
            if not answer.done():
                answer.set_result(value)

        await self.emit(event, data, settle)
        try:
            return await asyncio.wait_for(answer, timeout_s)
        except TimeoutError:
            return {"ok": False, "error": {"code": "timeout"}}

    @property
    def pending_acks(self) -> int:
        return len(self._acks)

    async def close(self) -> None:
        self.connected = False
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError, aiohttp.ClientError):
                await self.ws.send_str("41")
            await self.ws.close()
        if self._reader is not None:
            await self._reader

    async def _read(self) -> None:
        ws, reason = self.ws, "transport close"
        try:
            while True:
                msg = await ws.receive()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                data: str = msg.data
                if data == "2":
                    await ws.send_str("3")
                elif data.startswith("42"):
                    self._event(data)
                elif data.startswith("43"):
                    self._ack(data)
                elif data.startswith("41") or data == "1":
                    reason = "io server disconnect" if data.startswith("41") else "transport close"
                    break
        except (ConnectionError, RuntimeError, aiohttp.ClientError):
            reason = "transport error"
        finally:
            was_connected, self.connected = self.connected, False
            if was_connected and self.on_close is not None:
                self.on_close(reason)

    def _event(self, data: str) -> None:
        start = data.find("[", 2)
        if data[start + 1] == '"':  # look at the name first: events nobody listens to are not parsed
            name = data[start + 2 : data.find('"', start + 2)]
            handler = self.handlers.get(name)
            if handler is None:
                return
        packet = orjson.loads(data[start:])
        handler = self.handlers.get(packet[0])
        if handler is not None:
            handler(packet[1] if len(packet) > 1 else None)

    def _ack(self, data: str) -> None:
        start = data.find("[", 2)
        callback = self._acks.pop(int(data[2:start]), None)
        if callback is not None:
            packet = orjson.loads(data[start:])
            callback(packet[0] if packet else None)
