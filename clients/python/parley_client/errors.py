"""Typed errors, one per protocol code (PROTOCOL §3), plus the handshake's refusals."""

from __future__ import annotations

from typing import Any


class ParleyError(Exception):
    """An error the server answered with; ``code`` is the protocol code."""

    code = "internal"
    retryable = True

    def __init__(self, message: str = "", *, retry_after_ms: int | None = None) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.retry_after_ms = retry_after_ms


class InvalidPayload(ParleyError):
    code = "invalid_payload"
    retryable = False


class Forbidden(ParleyError):
    code = "forbidden"
    retryable = False


class NotFound(ParleyError):
    code = "not_found"
    retryable = False


class RateLimited(ParleyError):
    code = "rate_limited"


class Unavailable(ParleyError):
    code = "unavailable"


class InternalError(ParleyError):
    code = "internal"


class AuthError(ParleyError):
    """The server refused the token (``auth_missing``, ``auth_invalid``, ``auth_expired``)."""

    retryable = True  # with a fresh token

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


_BY_CODE: dict[str, type[ParleyError]] = {
    cls.code: cls for cls in (InvalidPayload, Forbidden, NotFound, RateLimited, Unavailable, InternalError)
}


def error_from_ack(ack: Any) -> ParleyError:
    """The typed error of an ``{"ok": false, "error": {...}}`` ack (or of a malformed ack)."""
    error = ack.get("error") if isinstance(ack, dict) else None
    if not isinstance(error, dict):
        return InternalError("malformed answer from the server")
    cls = _BY_CODE.get(str(error.get("code")), InternalError)
    retry = error.get("retryAfterMs")
    return cls(str(error.get("message") or ""), retry_after_ms=retry if isinstance(retry, int) else None)
