"""What operators see: structured logs carrying a request id, and Prometheus metrics.

A request id follows one piece of work across services: the gateway makes one per client
event and sends it as ``X-Request-ID`` on its internal calls; every HTTP service takes it
from that header (or makes one) and puts it on each log line and on the response.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import sys
import uuid
from contextvars import ContextVar

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest
from pythonjsonlogger.json import JsonFormatter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_PLAIN_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


# A random prefix per process and 64 fast pseudo-random bits: unique enough to correlate
# logs, without a trip to the OS for randomness per event (the gateway makes one per event).
# Not a secret and not a counter (a counter would tell anyone the request volume).
_ID_PREFIX = uuid.uuid4().hex[:16]


def new_request_id() -> str:
    return f"{_ID_PREFIX}{random.getrandbits(64):016x}"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def configure_logging(service: str, *, json_lines: bool, level: str = "INFO") -> None:
    """One handler on the root logger (uvicorn's loggers propagate to it)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if json_lines:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                static_fields={"service": service},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


class RequestIdMiddleware:
    """Take the caller's ``X-Request-ID`` (or make one), log with it, and answer with it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == REQUEST_ID_HEADER.encode()), b"")
        # Taken only when short and plain: it goes into every log line and back to the caller.
        current = given.decode() if _PLAIN_ID.fullmatch(given) else new_request_id()
        token = request_id.set(current)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), current.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)


TASKS = Gauge("parley_asyncio_tasks", "asyncio tasks alive in this process (a steady rise is a leak)")


async def _metrics(request: Request) -> Response:
    TASKS.set(len(asyncio.all_tasks()))  # counted here, on the event loop (this request's task included)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def metrics_app() -> Starlette:
    """``GET /metrics`` in the Prometheus text format (every metric of this process), served
    on METRICS_PORT, apart from the public port: it tells anyone who can read it how busy the
    service is and what fails, so it is for the scraper, never for the internet."""
    return Starlette(routes=[Route("/metrics", _metrics, methods=["GET"])])
