"""Real uvicorn servers inside the test's own event loop (a real port, real sockets)."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

# Below Linux's ephemeral range (32768-60999): a port the kernel hands out for bind(0) is
# one it may give the next outgoing connection too, before the server that was told to
# listen on it starts (seen: a metrics port taken between the choice and the bind).
_LISTEN_PORTS = range(20_000, 32_000)


def free_port() -> int:
    """A port nothing listens on now, outside the range outgoing connections draw from."""
    for _ in range(100):
        port = random.choice(_LISTEN_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


@asynccontextmanager
async def uvicorn_serving(app: Any, port: int, **options: Any) -> AsyncIterator[uvicorn.Server]:
    """Serve ``app`` on 127.0.0.1:``port`` until the context exits."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on", **options
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # start-up failed: raise its error
                raise RuntimeError("uvicorn stopped during start-up")
            await asyncio.sleep(0.01)
        yield server
    finally:
        server.should_exit = True
        await task
