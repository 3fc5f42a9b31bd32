"""What stands between clients and an in-process Parley, as an ingress or a proxy would:

- ``backend`` can be replaced while serving (a rolling update to a new configuration:
  requests from then on reach the new one, connections already open stay where they are);
- ``block_socketio``: every Socket.IO request (WebSocket and long-polling) is refused with
  403, as by a proxy that lets only the plain HTTP API through;
- ``requests`` counts what came, by ``"METHOD path"`` (WebSocket handshakes as ``WS``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.types import ASGIApp, Receive, Scope, Send

from parley_launcher.compose import EmbeddedApp, EmbeddedSettings
from tests.support.ports import free_port
from tests.support.servers import uvicorn_serving


class Front:
    def __init__(self, backend: ASGIApp) -> None:
        self.backend = backend
        self.block_socketio = False
        self.requests: Counter[str] = Counter()
        self._arrived = asyncio.Event()

    def count(self, method: str, path_start: str) -> int:
        return sum(n for key, n in self.requests.items() if key.startswith(f"{method} {path_start}"))

    async def reached(self, method: str, path_start: str, count: int) -> None:
        """Until :meth:`count` is at least ``count``."""
        while self.count(method, path_start) < count:
            self._arrived.clear()
            await self._arrived.wait()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # the backends' lifespans are run by whoever built them
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path: str = scope.get("path", "")
        self.requests[f"{scope.get('method', 'WS')} {path}"] += 1
        self._arrived.set()
        if self.block_socketio and path.startswith("/socket.io"):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await send({"type": "http.response.start", "status": 403, "headers": []})
            await send({"type": "http.response.body", "body": b"blocked by the proxy"})
            return
        await self.backend(scope, receive, send)


@asynccontextmanager
async def embedded(settings: EmbeddedSettings) -> AsyncIterator[EmbeddedApp]:
    """An embedded default with its lifespan running, not served yet (see :class:`Front`)."""
    app = EmbeddedApp(settings)
    async with app.lifespan():
        yield app


@asynccontextmanager
async def serving_front(settings: EmbeddedSettings) -> AsyncIterator[tuple[str, Front]]:
    """The embedded default built from ``settings`` behind a :class:`Front` on a free port."""
    port = free_port()
    async with embedded(settings) as app:
        front = Front(app)
        async with uvicorn_serving(front, port, ws_max_size=settings.gateway.max_packet_bytes):
            yield f"http://127.0.0.1:{port}", front
