"""Long-polling POSTs, read and bounded before Engine.IO sees them.

python-engineio refuses a POST whose ``Content-Length`` is over the limit by disconnecting
its session and answering 400 (after waiting for the client to collect a CLOSE packet it
would never collect: the request used to hang for good), reads a chunked body of any
length, and logs a traceback for a body that is not UTF-8. Here every POST body is read
first, at most ``max_bytes`` of it: over the limit (declared or streamed) the request is
answered 413 and its session closed at once; a body that is not UTF-8 is answered 400 and
its session closed, as a malformed packet closes a WebSocket. Only then does Engine.IO get
the body, whole.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class _ClientGone(Exception):
    """The client disconnected before the end of its request body."""


class PollingBodyLimit:
    def __init__(self, app: ASGIApp, *, engine: Any, max_bytes: int) -> None:
        self.app = app
        self._engine = engine  # the Engine.IO server, to close a refused request's session
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(scope, receive)
        except _ClientGone:
            return  # nothing to answer, and Engine.IO has nothing to read
        if body is None:
            await self._refuse(scope, send, 413, "the request body is over the packet size limit")
            return
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            await self._refuse(scope, send, 400, "the request body is not UTF-8")
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None when it is (or says it will be) over the limit."""
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > self._max_bytes):
                return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, scope: Scope, send: Send, status: int, reason: str) -> None:
        sid = _session_id(scope)
        if sid is not None and sid in self._engine.sockets:
            log.info("closing a long-polling session: %s", reason)
            await self._engine.disconnect(sid)
        body = orjson.dumps(reason)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _session_id(scope: Scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("sid")
    return values[0] if values else None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over ``body`` in one message, then the real ones."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed
