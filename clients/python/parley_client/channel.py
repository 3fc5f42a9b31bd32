"""The message events, over Socket.IO or over HTTP, whichever the feature switch says now.

``message:send``, ``messages:sync``, ``message:delivered`` and ``message:read`` go through
here; over HTTP each is its PROTOCOL §5 route and its answer is handed back in the ack's
shape (``{"ok": true, …}`` or ``{"ok": false, "error": …}``), so the sender's retries and the
conversation's merge rules are one code path whatever the transport. A request with no HTTP
answer is :class:`~parley_client.sender.NotConnected`, as a dropped socket is: the caller
waits for the link (uncounted) and tries again, on whichever path is in force by then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from parley_client.errors import AuthError, ParleyError
from parley_client.feature_switch import FeatureSwitch
from parley_client.http_api import HttpApi, Unreachable
from parley_client.http_link import HttpLink
from parley_client.sender import NotConnected

if TYPE_CHECKING:
    from parley_client.connection import Connection


class MessageChannel:
    def __init__(self, connection: Connection, http: HttpApi, link: HttpLink, switch: FeatureSwitch) -> None:
        self._connection = connection
        self._http = http
        self._link = link
        self._switch = switch

    @property
    def over_http(self) -> bool:
        return self._switch.effective.messages == "http"

    @property
    def connected(self) -> bool:
        return self._link.reachable if self.over_http else self._connection.connected

    async def wait_connected(self) -> None:
        """Until the path in force can be tried (a switch of path wakes the wait)."""
        while True:
            if self.over_http:
                if await _first(self._link.wait_usable(), self._switch.changed()) and self.over_http:
                    return
            elif self._connection.connected:
                return
            else:
                await _first(self._connection.wait_connected(), self._switch.changed())

    async def call(self, event: str, payload: dict[str, Any]) -> Any:
        if not self.over_http:
            return await self._connection.call(event, payload)
        try:
            return {"ok": True, **await self._http_call(event, payload)}
        except (Unreachable, AuthError):
            # No answer, or a token refused twice: as offline (the link's backoff paces the
            # next try, and the token provider is asked again then).
            self._link.report(False)
            raise NotConnected() from None
        except ParleyError as exc:
            error: dict[str, Any] = {"code": exc.code, "message": exc.message}
            if exc.retry_after_ms is not None:
                error["retryAfterMs"] = exc.retry_after_ms
            return {"ok": False, "error": error}

    async def _http_call(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        conversation_id = payload["conversationId"]
        if event == "message:send":
            return await self._http.send(conversation_id, payload["clientMessageId"], payload["body"])
        if event == "messages:sync":
            return await self._http.messages(conversation_id, payload["afterSeq"], payload["limit"])
        if event in ("message:delivered", "message:read"):
            return await self._http.mark(conversation_id, event.removeprefix("message:"), payload["upToSeq"])
        raise ValueError(f"{event} has no HTTP route")


async def _first(wanted: Awaitable[None], interruption: Awaitable[None]) -> bool:
    """Await ``wanted`` unless ``interruption`` comes first; True if ``wanted`` did."""
    task = asyncio.ensure_future(wanted)
    other = asyncio.ensure_future(interruption)
    try:
        done, _ = await asyncio.wait({task, other}, return_when=asyncio.FIRST_COMPLETED)
        return task in done
    finally:
        task.cancel()
        other.cancel()
