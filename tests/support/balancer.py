"""A TCP load balancer stand-in: each new connection goes to the first backend that accepts.

Enough for WebSocket clients (one TCP connection per session): when a gateway dies, its
clients reconnect through here and land on the next one, as behind a real balancer.
With ``spread``, the first backend tried takes turns (round robin), so that clients are
shared between the gateways; a refused backend still fails over to the next. Socket.IO
connections take turns among themselves: an SDK's HTTP calls (its client config, say) would
otherwise shift every socket onto the same gateway.
``backends`` is read for every new connection, so a test may change it (a Service that now
selects other pods); the handle's ``cut()`` closes the connections already piped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


def piping(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> asyncio.Task[None]:
    """A task that forwards ``reader`` to ``writer``, and closes ``writer`` when it ends.

    Closed by the task's done callback, not by the coroutine: a task cancelled before its
    first step (a ``cut()`` in the loop turn that piped the connection) never runs its
    coroutine, and its socket was left to the garbage collector (a ResourceWarning)."""
    task = asyncio.create_task(_pipe(reader, writer))
    task.add_done_callback(lambda _: _close(writer))
    return task


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):  # its loop already closed, say
        writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()


class Balancer:
    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def cut(self) -> None:
        """Close every connection piped so far (clients reconnect to ``backends`` as they are now)."""
        for task in list(self.tasks):
            task.cancel()


@asynccontextmanager
async def failover_balancer(
    port: int, backends: list[int], *, spread: bool = False
) -> AsyncIterator[Balancer]:
    balancer = Balancer()
    tasks = balancer.tasks
    turns = {True: itertools.count(), False: itertools.count()}  # by: is it a Socket.IO connection

    async def accept(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        # Until it is piped, the connection is this task's: cut and shutdown cancel it, and a
        # cancelled or unrouted connection is closed here, never left to the garbage collector.
        accepting = asyncio.current_task()
        assert accepting is not None
        tasks.add(accepting)
        try:
            head = await client_reader.read(65536)  # the request line: where does it go
            kind = b"/socket.io/" in head.split(b"\r\n", 1)[0]
            first = next(turns[kind]) % len(backends) if spread else 0
            for backend in backends[first:] + backends[:first]:
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", backend)
                    break
                except OSError:
                    continue
            else:
                client_writer.close()
                return
        except BaseException:
            client_writer.close()
            raise
        finally:
            tasks.discard(accepting)
        writer.write(head)
        both = [piping(client_reader, writer), piping(reader, client_writer)]
        tasks.update(both)
        for task in both:
            task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(accept, "127.0.0.1", port)
    try:
        yield balancer
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
