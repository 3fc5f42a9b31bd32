"""A TCP proxy that misbehaves on command, between clients and a gateway.

- ``cut()``: close every connection now (both sides see it at once), keep accepting.
- ``blackhole()``: keep connections open but forward nothing, either way, and hold new
  ones the same: the link is dead and nobody is told (only pings can notice).
- ``delay(s)``: forward everything ``s`` seconds late.
- ``heal()``: back to a plain pipe for new connections (a black-holed one stays dead).
- ``refuse_websocket_upgrades()``: answer any request asking for a WebSocket upgrade with
  403 and close that connection, as proxies that only speak plain HTTP do; everything
  else (long-polling) passes.
- ``refuse_socket_io()``: answer every Socket.IO request (``/socket.io/``, WebSocket and
  long-polling alike) with 403, as a proxy that lets only the plain HTTP API through does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class FaultyProxy:
    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self.port = 0
        self._mode = "pass"
        self._delay_s = 0.0
        self._refuse_upgrades = False
        self._refuse_socket_io = False
        self.refused_upgrades = 0
        self._links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter, asyncio.Event]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False
        self.connections = 0

    def cut(self) -> None:
        for client, upstream, _ in list(self._links):
            for writer in (client, upstream):
                with contextlib.suppress(Exception):
                    writer.transport.abort()
        self._links.clear()

    def blackhole(self) -> None:
        self._mode = "blackhole"
        for _, _, dead in self._links:
            dead.set()

    def delay(self, seconds: float) -> None:
        self._mode, self._delay_s = "pass", seconds

    def refuse_websocket_upgrades(self) -> None:
        self._refuse_upgrades = True

    def refuse_socket_io(self, refuse: bool = True) -> None:
        self._refuse_socket_io = refuse

    def heal(self) -> None:
        self._mode, self._delay_s = "pass", 0.0

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        # Until it is linked, the connection is this task's: the shutdown cancels it, and one
        # accepted as the proxy stops is closed here, not left to the garbage collector.
        accepting = asyncio.current_task()
        assert accepting is not None
        self._tasks.add(accepting)
        self.connections += 1
        try:
            if self._stopped:
                client_writer.transport.abort()
                return
            reader, writer = await asyncio.open_connection("127.0.0.1", self._target)
        except OSError:
            client_writer.transport.abort()
            return
        except BaseException:
            client_writer.transport.abort()
            raise
        finally:
            self._tasks.discard(accepting)
        dead = asyncio.Event()
        if self._mode == "blackhole":
            dead.set()
        link = (client_writer, writer, dead)
        self._links.add(link)
        for source, sink, requests in ((client_reader, writer, client_writer), (reader, client_writer, None)):
            task = asyncio.create_task(self._pipe(source, sink, dead, requests))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        dead: asyncio.Event,
        requests_from: asyncio.StreamWriter | None,
    ) -> None:
        """Forward ``reader`` to ``writer``; ``requests_from`` is the client, when this
        direction carries its requests."""
        try:
            while data := await reader.read(65536):
                if dead.is_set():
                    continue  # swallowed
                if requests_from is not None and (
                    (self._refuse_upgrades and _asks_upgrade(data))
                    or (self._refuse_socket_io and b" /socket.io/" in data.split(b"\r\n", 1)[0])
                ):
                    self.refused_upgrades += 1
                    requests_from.write(_FORBIDDEN)
                    await requests_from.drain()
                    break
                if self._delay_s:
                    await asyncio.sleep(self._delay_s)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if not dead.is_set():
                with contextlib.suppress(Exception):
                    writer.transport.abort()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[FaultyProxy]:
        server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            self._stopped = True
            server.close()
            self.cut()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()


_FORBIDDEN = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def _asks_upgrade(data: bytes) -> bool:
    # Request heads are small and arrive whole on the loopback; a request on a kept-alive
    # connection is checked too, since every chunk the client sends is.
    return b"\r\nupgrade: websocket" in data.lower()


@asynccontextmanager
async def proxy_to(url: str) -> AsyncIterator[tuple[FaultyProxy, str]]:
    """A :class:`FaultyProxy` in front of the server at ``url`` (``http://127.0.0.1:PORT``), and
    the URL to reach it through the proxy."""
    async with FaultyProxy(int(url.rsplit(":", 1)[1])).running() as proxy:
        yield proxy, f"http://127.0.0.1:{proxy.port}"
