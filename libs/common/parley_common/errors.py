"""The one error vocabulary of PROTOCOL §3.

Service code raises these; only the edges (HTTP exception handlers, socket ack builders)
translate them into a status code or an ack envelope. Anything else that escapes is a bug
and becomes ``internal``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    INVALID_PAYLOAD = "invalid_payload"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"
    UNAUTHENTICATED = "unauthenticated"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_PAYLOAD: 422,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
    ErrorCode.UNAUTHENTICATED: 401,
}


class ParleyError(Exception):
    """An error whose code and message are safe to show to the client."""

    code: ErrorCode = ErrorCode.INTERNAL
    status_override: int | None = None
    default_message = "unexpected server error"

    def __init__(self, message: str | None = None, *, retry_after_ms: int | None = None) -> None:
        self.message = message or self.default_message
        self.retry_after_ms = retry_after_ms
        super().__init__(self.message)

    @property
    def http_status(self) -> int:
        return self.status_override or HTTP_STATUS[self.code]

    def to_error(self) -> dict[str, Any]:
        """The ``error`` object of the ack envelope and of HTTP error bodies."""
        error: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.retry_after_ms is not None:
            error["retryAfterMs"] = self.retry_after_ms
        return error

    def to_ack(self) -> dict[str, Any]:
        return {"ok": False, "error": self.to_error()}

    @classmethod
    def from_error(cls, error: dict[str, Any]) -> ParleyError:
        """Rebuild the typed error from an ``error`` object (e.g. an internal API answer)."""
        try:
            code = ErrorCode(str(error.get("code")))
        except ValueError:
            code = ErrorCode.INTERNAL
        exc_type = _BY_CODE.get(code, InternalError)
        retry = error.get("retryAfterMs")
        return exc_type(
            str(error.get("message") or exc_type.default_message),
            retry_after_ms=retry if isinstance(retry, int) else None,
        )


class InvalidPayload(ParleyError):
    code = ErrorCode.INVALID_PAYLOAD
    default_message = "invalid payload"


class Forbidden(ParleyError):
    code = ErrorCode.FORBIDDEN
    default_message = "not a member of this conversation"


class NotFound(ParleyError):
    code = ErrorCode.NOT_FOUND
    default_message = "no such conversation"


class RateLimited(ParleyError):
    code = ErrorCode.RATE_LIMITED
    default_message = "too many messages; slow down"


class Unavailable(ParleyError):
    code = ErrorCode.UNAVAILABLE
    default_message = "a backing service is unavailable; nothing was stored"


class InternalError(ParleyError):
    code = ErrorCode.INTERNAL


class Unauthenticated(ParleyError):
    code = ErrorCode.UNAUTHENTICATED
    default_message = "a valid bearer token is required"


class PayloadTooLarge(InvalidPayload):
    """Still ``invalid_payload`` to the client ("body too long"), but HTTP 413."""

    status_override = 413
    default_message = "request body too large"


_BY_CODE: dict[ErrorCode, type[ParleyError]] = {
    cls.code: cls
    for cls in (
        InvalidPayload,
        Forbidden,
        NotFound,
        RateLimited,
        Unavailable,
        InternalError,
        Unauthenticated,
    )
}
