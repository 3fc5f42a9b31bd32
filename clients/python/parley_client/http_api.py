"""The public HTTP API (PROTOCOL §5) as the SDK's polling path uses it.

Answers come back as dicts; an error answer raises the :class:`~parley_client.errors.ParleyError`
of its code (a 429's ``Retry-After`` as ``retry_after_ms``). A request that got no HTTP answer
at all (refused, reset, timed out) raises :class:`Unreachable`, which callers treat like a
dropped socket. The token is asked of the provider once and again only when the server
refuses it or it is about to expire, not on every poll; a fresh one refused too is reported
(``on_refused``) so that the client can show ``unauthorized`` with the code, as for a socket.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx

from parley_client.errors import AuthError, ParleyError, error_from_ack

TokenProvider = Callable[[], Awaitable[str]]
REQUEST_TIMEOUT_S = 10.0
TOKEN_REFRESH_BEFORE_EXP_S = 30.0
_STATUS_CODES = {403: "forbidden", 404: "not_found", 413: "invalid_payload", 422: "invalid_payload"}
_STATUS_CODES |= {429: "rate_limited", 503: "unavailable"}


class Unreachable(Exception):
    """No HTTP answer: the server or the link is down (or the request timed out)."""


class HttpApi:
    def __init__(
        self,
        url: str,
        *,
        token_provider: TokenProvider,
        on_reachable: Callable[[bool], None],
        on_refused: Callable[[AuthError | None], None],
    ) -> None:
        self._http = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=REQUEST_TIMEOUT_S)
        self._token_provider = token_provider
        self._token: str | None = None
        self._token_exp = 0.0
        self._on_reachable = on_reachable
        self._on_refused = on_refused

    # ---- the routes the SDK uses --------------------------------------------------------

    async def client_config(self) -> dict[str, Any]:
        return await self.request("GET", "/api/client-config")

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/api/conversations/{_segment(conversation_id)}")

    async def messages(self, conversation_id: str, after_seq: int, limit: int) -> dict[str, Any]:
        path = f"/api/conversations/{_segment(conversation_id)}/messages"
        return await self.request("GET", path, params={"afterSeq": after_seq, "limit": limit})

    async def send(self, conversation_id: str, client_message_id: str, body: str) -> dict[str, Any]:
        path = f"/api/conversations/{_segment(conversation_id)}/messages"
        return await self.request("POST", path, json={"clientMessageId": client_message_id, "body": body})

    async def mark(self, conversation_id: str, kind: str, up_to_seq: int) -> dict[str, Any]:
        path = f"/api/conversations/{_segment(conversation_id)}/{kind}"
        return await self.request("POST", path, json={"upToSeq": up_to_seq})

    # ---- plumbing -----------------------------------------------------------------------

    async def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> dict[str, Any]:
        answer = await self._send(method, path, params, json, fresh_token=False)
        if answer.status_code == 401:  # expired on the way, or revoked: one fresh token
            answer = await self._send(method, path, params, json, fresh_token=True)
        body = _json(answer)
        if answer.is_success and isinstance(body, dict):
            self._on_refused(None)
            return body
        error = _error(answer, body)
        if isinstance(error, AuthError):
            self._on_refused(error)
        raise error

    async def _send(
        self, method: str, path: str, params: dict[str, Any] | None, body: Any, *, fresh_token: bool
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self._bearer(fresh=fresh_token)}"}
        try:
            answer = await self._http.request(method, path, params=params, json=body, headers=headers)
        except httpx.HTTPError as exc:
            self._on_reachable(False)
            raise Unreachable(repr(exc)) from None
        self._on_reachable(True)
        return answer

    async def _bearer(self, *, fresh: bool) -> str:
        if fresh or self._token is None or time.time() > self._token_exp - TOKEN_REFRESH_BEFORE_EXP_S:
            self._token = await self._token_provider()
            self._token_exp = _expiry(self._token)
        return self._token

    async def aclose(self) -> None:
        await self._http.aclose()


def _segment(conversation_id: str) -> str:
    return quote(conversation_id, safe="")


def _json(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def _error(answer: httpx.Response, body: Any) -> ParleyError:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        fallback = "unavailable" if answer.status_code >= 500 else "internal"
        code = _STATUS_CODES.get(answer.status_code, fallback)
        error = {"code": code, "message": f"HTTP {answer.status_code}"}
    if answer.status_code == 401:
        # "auth_expired: …" (the server names the handshake's code first); else auth_invalid.
        message = str(error.get("message") or "")
        code = message.split(":", 1)[0] if message.startswith("auth_") else "auth_invalid"
        return AuthError(code, message)
    if "retryAfterMs" not in error and (retry := answer.headers.get("retry-after", "")).isdigit():
        error = {**error, "retryAfterMs": int(retry) * 1000}
    return error_from_ack({"ok": False, "error": error})


def _expiry(token: str) -> float:
    """The token's ``exp`` (unverified: only to know when to ask for a new one); never, if none."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return float("inf")
