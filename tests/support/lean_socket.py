"""A lean Socket.IO v5 client: one aiohttp WebSocket and one reader task per connection,
so one test process can hold thousands (python-socketio's ``AsyncClient`` brings an HTTP
session and several tasks each). WebSocket only, no reconnection, no binary packets:
enough to soak the gateways, not an SDK.

Engine.IO text frames: ``0{...}`` open, ``2``/``3`` ping/pong, ``1`` close; Socket.IO
inside ``4…``: ``40{...}`` connected, ``44{...}`` refused, ``41`` disconnected,
``42[event, data]`` an event, ``42<id>[...]`` one that wants an ack, ``43<id>[data]`` an ack.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

Handler = Callable[[str, Any], None]


class Refused(Exception):
    """The handshake failed: transport error, timeout or ``connect_error``."""


class LeanSocket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, on_event: Handler) -> None:
        self._ws = ws
        self._on_event = on_event
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._ids = 0
        self.closed_by_server = False  # the link ended without close() being called
        self._closing = False
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(
        cls, session: aiohttp.ClientSession, url: str, token: str, on_event: Handler, *, wait_s: float = 10
    ) -> LeanSocket:
        parts = urlsplit(url)
        try:
            async with asyncio.timeout(wait_s):
                ws = await session.ws_connect(f"ws://{parts.netloc}/socket.io/?EIO=4&transport=websocket")
                try:
                    if not (await ws.receive_str()).startswith("0"):
                        raise Refused("no Engine.IO open packet")
                    await ws.send_str("40" + orjson.dumps({"token": token}).decode())
                    while (frame := await ws.receive_str()) == "2":
                        await ws.send_str("3")
                    if not frame.startswith("40"):
                        raise Refused(frame[:200])
                except BaseException:
                    await ws.close()
                    raise
        except (TimeoutError, aiohttp.ClientError, TypeError) as exc:  # TypeError: a non-text frame
            raise Refused(repr(exc)) from exc
        return cls(ws, on_event)

    async def call(self, event: str, payload: Any, *, wait_s: float = 10) -> Any:
        """Emit with an ack and return the ack's payload."""
        self._ids += 1
        ack_id = self._ids
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        try:
            await self._ws.send_str(f"42{ack_id}" + orjson.dumps([event, payload]).decode())
            async with asyncio.timeout(wait_s):
                return await future
        finally:
            self._acks.pop(ack_id, None)

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionError, aiohttp.ClientError):
            async for message in self._ws:
                if message.type != aiohttp.WSMsgType.TEXT or not await self._frame(message.data):
                    break
        self.closed_by_server = not self._closing
        for future in self._acks.values():
            if not future.done():
                future.set_exception(ConnectionError("the connection closed"))

    async def _frame(self, frame: str) -> bool:
        """Handle one frame; False when it ends the connection."""
        if frame == "2":
            await self._ws.send_str("3")
        elif frame.startswith("42"):
            event, data = [*orjson.loads(frame[2:]), None][:2]
            self._on_event(event, data)
        elif frame.startswith("43"):
            head, _, body = frame[2:].partition("[")
            future = self._acks.get(int(head))
            if future is not None and not future.done():
                future.set_result(orjson.loads("[" + body)[0])
        return not frame.startswith(("41", "1"))

    async def close(self) -> None:
        self._closing = True
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._ws.close()
