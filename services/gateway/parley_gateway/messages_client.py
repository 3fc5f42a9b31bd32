"""The gateway's client of the messages service's internal API.

Every call is bounded by INTERNAL_TIMEOUT_S: a slow or absent messages service becomes
``unavailable`` in bounded time, never a hanging ack, and the pool reconnects by itself
when the service is back. Answers are the wire shape already (the messages service built
and validated them), so they are handed on as plain dicts rather than parsed again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from parley_common.errors import InternalError, ParleyError, Unavailable
from parley_gateway.config import GatewaySettings

log = logging.getLogger(__name__)

Answer = dict[str, Any]


class MessagesClient:
    def __init__(self, http: httpx.AsyncClient, *, timeout_s: float) -> None:
        self._http = http
        self._timeout_s = timeout_s

    @classmethod
    def create(
        cls, settings: GatewaySettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> MessagesClient:
        """One pooled client per process; ``transport`` lets the embedded launcher go in-process."""
        http = httpx.AsyncClient(
            base_url=settings.messages_url.rstrip("/") + "/internal/v1",
            headers={
                "Authorization": f"Bearer {settings.internal_token_value}",
                "Content-Type": "application/json",
            },
            # retries=1 repeats only a failed connect: the request never reached the service.
            transport=transport or httpx.AsyncHTTPTransport(retries=1),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
            timeout=settings.internal_timeout_s,
        )
        return cls(http, timeout_s=settings.internal_timeout_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, body: Answer) -> Answer:
        return await self._post("/messages", body)

    async def join(self, conversation_id: str, user_id: str) -> Answer:
        return await self._post(f"/conversations/{_segment(conversation_id)}/join", {"userId": user_id})

    async def access(self, conversation_id: str, user_id: str) -> Answer:
        return await self._post(f"/conversations/{_segment(conversation_id)}/access", {"userId": user_id})

    async def sync(self, conversation_id: str, body: Answer) -> Answer:
        return await self._post(f"/conversations/{_segment(conversation_id)}/sync", body)

    async def mark(self, conversation_id: str, kind: str, body: Answer) -> Answer:
        return await self._post(f"/conversations/{_segment(conversation_id)}/{kind}", body)

    async def _post(self, path: str, body: Answer) -> Answer:
        try:
            # asyncio.timeout, not only httpx's: it also bounds in-process transports and pool waits.
            async with asyncio.timeout(self._timeout_s):
                response = await self._http.post(path, content=orjson.dumps(body))
        except TimeoutError:
            raise Unavailable("the messages service did not answer in time; nothing was stored") from None
        except httpx.TransportError as exc:
            log.warning("messages service unreachable: %s", exc)
            raise Unavailable("the messages service is unreachable; nothing was stored") from None
        if response.status_code >= 400:
            raise _error_of(response)
        answer: Answer = orjson.loads(response.content)
        return answer


def _segment(value: str) -> str:
    # Ids come from clients: encode everything, dots included, so that no id can climb
    # out of its path segment into another internal route.
    return quote(value, safe="").replace(".", "%2E")


def _error_of(response: httpx.Response) -> ParleyError:
    try:
        error = orjson.loads(response.content)["error"]
        code = error["code"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        if response.status_code in (502, 503, 504):
            return Unavailable()
        log.error("messages service answered %s without an error body", response.status_code)
        return InternalError()
    if code == "unauthenticated":
        # Our own INTERNAL_TOKEN was refused: a deployment mistake, not the user's.
        log.error("the messages service refused the gateway's INTERNAL_TOKEN")
        return InternalError()
    return ParleyError.from_error(error)
