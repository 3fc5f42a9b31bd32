"""Real uvicorn servers inside the test's own event loop (a real port, real sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn


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
