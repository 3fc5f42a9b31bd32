"""A TCP load balancer stand-in: each new connection goes to the first backend that accepts.

Enough for WebSocket clients (one TCP connection per session): when a gateway dies, its
clients reconnect through here and land on the next one, as behind a real balancer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@asynccontextmanager
async def failover_balancer(port: int, backends: list[int]) -> AsyncIterator[None]:
    tasks: set[asyncio.Task[None]] = set()

    async def accept(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        for backend in backends:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", backend)
                break
            except OSError:
                continue
        else:
            client_writer.close()
            return
        both = [
            asyncio.create_task(_pipe(client_reader, writer)),
            asyncio.create_task(_pipe(reader, client_writer)),
        ]
        tasks.update(both)
        for task in both:
            task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(accept, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
