"""What reaches Engine.IO: handshakes within the per-address cap, long-polling POSTs whole
and within the size limit.

- A new Engine.IO session (a request without ``sid``) from a client address that already
  holds ``MAX_CONNECTIONS_PER_ADDRESS`` transports on this gateway is answered 429, with a
  JSON reason and ``Retry-After``, before any work (a token is only checked later, at the
  Socket.IO CONNECT: without this, one client could open transports by the thousand).
- python-engineio refuses a POST whose ``Content-Length`` is over the limit by closing its
  session and answering 400 (after waiting for the client to collect a CLOSE packet it would
  never collect: the request used to hang for good), reads a chunked body of any length, and
  logs a traceback for a body that is not UTF-8. Here every POST body is read first, at most
  ``max_bytes`` of it: over the limit (declared or streamed) it is answered 413 and its
  session closed at once; a body that is not UTF-8 is answered 400 and its session closed, as
  a malformed packet closes a WebSocket. Only then does Engine.IO get the body, whole.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol
from urllib.parse import parse_qs

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley_gateway.metrics import REFUSED
from parley_gateway.transport.socketio_server import client_address

log = logging.getLogger(__name__)

TOO_MANY_CONNECTIONS = "too_many_connections"
_RETRY_AFTER_S = 5


class _Transports(Protocol):
    """The Socket.IO server, as far as the gate needs it (``ParleyServer``)."""

    eio: Any

    def transports_from(self, address: str) -> int: ...


class EngineGate:
    def __init__(self, app: ASGIApp, *, server: _Transports, max_bytes: int, max_per_address: int) -> None:
        self.app = app
        self._server = server
        self._max_bytes = max_bytes
        self._max_per_address = max_per_address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sid = _session_id(scope)
        if sid is None and self._over_address_cap(scope):
            REFUSED.labels(TOO_MANY_CONNECTIONS).inc()
            await _too_many(scope, send, self._max_per_address)
            return
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(scope, receive)
        except _ClientGone:
            return  # nothing to answer, and Engine.IO has nothing to read
        if body is None:
            await self._refuse(sid, send, 413, "the request body is over the packet size limit")
            return
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            await self._refuse(sid, send, 400, "the request body is not UTF-8")
            return
        await self.app(scope, _replay(body, receive), send)

    def _over_address_cap(self, scope: Scope) -> bool:
        address = client_address(scope)
        return address is not None and self._server.transports_from(address) >= self._max_per_address

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

    async def _refuse(self, sid: str | None, send: Send, status: int, reason: str) -> None:
        engine = self._server.eio
        if sid is not None and sid in engine.sockets:
            log.info("closing a long-polling session: %s", reason)
            await engine.disconnect(sid)
        await _answer(send, status, orjson.dumps(reason), [])


class _ClientGone(Exception):
    """The client disconnected before the end of its request body."""


def _session_id(scope: Scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("sid")
    return values[0] if values else None


async def _too_many(scope: Scope, send: Send, limit: int) -> None:
    body = orjson.dumps(
        {
            "code": TOO_MANY_CONNECTIONS,
            "message": f"this address already has {limit} connections to this server "
            "(MAX_CONNECTIONS_PER_ADDRESS); close some, or retry later",
        }
    )
    headers = [(b"retry-after", str(_RETRY_AFTER_S).encode())]
    if scope["type"] == "websocket":
        # Refused before the upgrade: uvicorn sends this as the HTTP answer to the handshake.
        await send({"type": "websocket.http.response.start", "status": 429, "headers": _json(body, headers)})
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await _answer(send, 429, body, headers)


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _json(body, headers)})
    await send({"type": "http.response.body", "body": body})


def _json(body: bytes, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]


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
