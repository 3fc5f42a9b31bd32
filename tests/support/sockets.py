"""A stock python-socketio ``AsyncClient`` that records what the server sends it."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

WAIT_S = 5.0
NOTHING: Any = object()


class SocketClient:
    """One connection; every server event is queued by name, to be awaited in order."""

    def __init__(self, **options: Any) -> None:
        self.sio = socketio.AsyncClient(**options)
        self.events: defaultdict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)
        self.disconnects: asyncio.Queue[str] = asyncio.Queue()
        self.connects: asyncio.Queue[None] = asyncio.Queue()
        # Run after every (re)connect, e.g. to re-join and sync, as an SDK would.
        self.on_connect: list[Callable[[], Awaitable[None]]] = []

        @self.sio.on("*")
        async def _any(event: str, data: Any = None) -> None:
            self.events[event].put_nowait(data)

        @self.sio.event
        async def connect() -> None:
            self.connects.put_nowait(None)
            for hook in self.on_connect:
                self.sio.start_background_task(hook)

        @self.sio.event
        async def disconnect(reason: str = "") -> None:
            self.disconnects.put_nowait(reason)

    async def connect(
        self,
        url: str,
        *,
        token: str | None = None,
        auth: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        transports: list[str] | None = None,
    ) -> SocketClient:
        if auth is None and token is not None:
            auth = {"token": token}
        await self.sio.connect(
            url,
            auth=auth,
            headers=headers or {},
            transports=transports or ["websocket"],
            wait_timeout=WAIT_S,
        )
        await self.next_connect()
        return self

    async def next_connect(self, *, wait_s: float = WAIT_S) -> None:
        await asyncio.wait_for(self.connects.get(), wait_s)

    async def call(self, event: str, payload: Any = NOTHING, *, wait_s: float = WAIT_S) -> Any:
        """Emit with an ack callback and return the ack. ``None`` is sent as JSON null."""
        if payload is NOTHING:
            return await self.sio.call(event, timeout=wait_s)
        # A 1-tuple is python-socketio's way to send exactly one argument, even null.
        return await self.sio.call(event, (payload,), timeout=wait_s)

    async def emit(self, event: str, payload: Any) -> None:
        await self.sio.emit(event, (payload,))

    async def next(self, event: str, *, wait_s: float = WAIT_S) -> Any:
        return await asyncio.wait_for(self.events[event].get(), wait_s)

    def pending(self, event: str) -> list[Any]:
        """What arrived and was not consumed yet (call after a barrier, never as a wait)."""
        queue = self.events[event]
        return [queue.get_nowait() for _ in range(queue.qsize())]

    async def close(self) -> None:
        self.sio.reconnection = False
        await self.sio.disconnect()
