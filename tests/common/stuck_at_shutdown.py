"""A service whose shutdown never ends (run with ``-m``): it answers /readyz, and its
lifespan waits forever once told to stop, as one whose Redis client's close hangs."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from parley_common.serve import serve

STOP_TIMEOUT_S = 1.0


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
    print("shutting down, forever", flush=True)
    await asyncio.Event().wait()


app = FastAPI(lifespan=lifespan)


@app.get("/readyz")
async def ready() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    serve(app, host="127.0.0.1", port=int(os.environ["PORT"]), stop_timeout_s=STOP_TIMEOUT_S)
