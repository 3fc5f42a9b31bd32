"""What every Parley HTTP app shares: the error envelope and the request size limit."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley_common.errors import ErrorCode, InternalError, InvalidPayload, ParleyError, PayloadTooLarge

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 64 * 1024

_STATUS_CODES = {
    401: ErrorCode.UNAUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    413: ErrorCode.INVALID_PAYLOAD,
    422: ErrorCode.INVALID_PAYLOAD,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.UNAVAILABLE,
}


def error_response(exc: ParleyError) -> JSONResponse:
    headers = {}
    if exc.retry_after_ms is not None:
        # Whole seconds, rounded up (PROTOCOL §4.2).
        headers["Retry-After"] = str(max(1, -(-exc.retry_after_ms // 1000)))
    return JSONResponse({"error": exc.to_error()}, status_code=exc.http_status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as ``{"error": {"code", "message"}}`` with a matching status."""

    @app.exception_handler(ParleyError)
    async def _parley(_: Request, exc: ParleyError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors: Any = exc.errors()
        message = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}" for e in errors[:3]
        )
        body = {"error": {"code": ErrorCode.INVALID_PAYLOAD.value, "message": message or "invalid request"}}
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, ErrorCode.INVALID_PAYLOAD)
        body = {"error": {"code": code.value, "message": str(exc.detail)}}
        # FastAPI's 400 is a body it could not parse (one that is not UTF-8, say): to
        # PROTOCOL §5 that is a malformed body, 422 like every other.
        status = 422 if exc.status_code == 400 else exc.status_code
        return JSONResponse(body, status_code=status, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(InternalError())


class BodySizeLimit:
    """Answer 413 to a request body over ``max_bytes``, declared or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await error_response(PayloadTooLarge())(scope, receive, send)
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge()
            return message

        await self.app(scope, limited_receive, send)


ReadyCheck = Callable[[Request], Awaitable[None]]


def probe_router(ready_check: ReadyCheck | None = None) -> APIRouter:
    """``/healthz`` (the process answers) and ``/readyz`` (its own dependencies answer)."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @router.get("/readyz")
    async def readyz(request: Request) -> dict[str, bool]:
        if ready_check is not None:
            await ready_check(request)  # raises Unavailable -> 503
        return {"ok": True}

    return router


class HostCheck:
    """Answer 400 to a request whose ``Host`` is not a name this server answers to.

    A web page can point its own domain name at 127.0.0.1 (DNS rebinding) and then talk to a
    server on the visitor's machine as if it were its own origin: the one thing it cannot
    change is the ``Host`` header, which still says its name. So only ``localhost`` and IP
    addresses (a rebinding needs a name) and the names in ALLOWED_HOSTS are answered: always
    in DEV_MODE, where anyone who reaches the server can mint tokens, and outside it when
    ALLOWED_HOSTS is set.
    """

    def __init__(self, app: ASGIApp, *, names: list[str]) -> None:
        self.app = app
        self._names = {name.lower().rstrip(".") for name in names}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = next((v for k, v in scope.get("headers", ()) if k == b"host"), b"").decode("latin-1")
            if not self.allows(host):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})  # uvicorn answers 403
                    return
                refusal = InvalidPayload(f"this server does not answer to the host {host[:100]!r}")
                await JSONResponse({"error": refusal.to_error()}, status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def allows(self, host_header: str) -> bool:
        host = _hostname(host_header)
        if host == "localhost" or host.endswith(".localhost") or _is_ip(host):
            return True  # no page can rebind these (and the kubelet probes by IP)
        return host in self._names or any(n.startswith("*.") and host.endswith(n[1:]) for n in self._names)


def _hostname(host_header: str) -> str:
    """``example.com:8000`` → ``example.com``; ``[::1]:8000`` → ``::1``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0].rstrip(".") if host.count(":") == 1 else host.rstrip(".")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def install_host_check(app: FastAPI, *, names: list[str], dev_mode: bool) -> None:
    """:class:`HostCheck` on ``app`` when it has something to check."""
    if dev_mode or names:
        app.add_middleware(HostCheck, names=names)
