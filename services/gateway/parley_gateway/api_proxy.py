"""Optional: forward ``/api/*`` to the messages service (API_PROXY_URL).

In Kubernetes the ingress routes ``/api`` to the messages service itself and this stays
off. Set-ups with nothing in front of the gateways (``make cluster``, a bare VM) turn it
on so that one base URL serves both the socket and the HTTP API.
"""

from __future__ import annotations

import aiohttp
from fastapi import APIRouter, Request, Response

from parley_common.errors import NotFound, Unavailable

_FORWARDED_REQUEST = ("authorization", "content-type", "accept", "x-request-id")
_FORWARDED_RESPONSE = ("content-type", "retry-after", "x-request-id")


class ApiProxy:
    """aiohttp rather than httpx: with hundreds of requests in flight, httpx's pool spent
    a quarter of the gateway's CPU choosing connections (py-spy, 200 concurrent creates)."""

    def __init__(self, base_url: str, *, timeout_s: float) -> None:
        self._session = aiohttp.ClientSession(
            base_url=base_url.rstrip("/") + "/",
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=4.0),
            auto_decompress=False,
        )

    async def forward(self, request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k in _FORWARDED_REQUEST}
        try:
            async with self._session.request(
                request.method,
                request.url.path.lstrip("/"),
                params=list(request.query_params.multi_items()),
                data=await request.body(),
                headers=headers,
            ) as answer:
                content = await answer.read()
        except (aiohttp.ClientError, TimeoutError):
            raise Unavailable("the messages service is unreachable") from None
        kept = {k: v for k, v in answer.headers.items() if k.lower() in _FORWARDED_RESPONSE}
        return Response(content, status_code=answer.status, headers=kept)

    async def aclose(self) -> None:
        await self._session.close()


def create_client(base_url: str, *, timeout_s: float) -> ApiProxy:
    return ApiProxy(base_url, timeout_s=timeout_s)


def router() -> APIRouter:
    api = APIRouter(include_in_schema=False)

    @api.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def forward(path: str, request: Request) -> Response:
        if _leaves_api(request.url.path):
            raise NotFound("no such route")
        proxy: ApiProxy = request.state.api_proxy
        return await proxy.forward(request)

    return api


def _leaves_api(path: str) -> bool:
    # "/api/../internal/…" (or %2e%2e, decoded by then) would be resolved by the HTTP client
    # into a route of the internal API: only paths that stay under /api are forwarded.
    return any(segment in (".", "..") for segment in path.split("/"))
