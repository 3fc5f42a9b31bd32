"""Running a FastAPI app's lifespan outside a server (the embedded launcher, tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[ASGIApp]:
    """Start ``app``'s lifespan; yield an ASGI app that hands requests the lifespan state.

    Servers copy the state a lifespan yields into every request's scope; an app called
    directly (in-process transport, a composing app) needs this done for it.
    """
    async with app.router.lifespan_context(app) as state:
        shared = dict(state or {})

        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] in ("http", "websocket"):
                scope = {**scope, "state": dict(shared)}
            await app(scope, receive, send)

        yield with_state
