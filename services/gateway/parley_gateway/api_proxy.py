"""Optional: forward the public HTTP API (``/api/*``) to the messages service (API_PROXY_URL).

In Kubernetes the ingress routes ``/api`` to the messages service itself and this stays
off. Set-ups with nothing in front of the gateways (``make cluster``, a bare VM) turn it
on so that one base URL serves both the socket and the HTTP API.

Only the public routes are forwarded, by an allow-list (:data:`PUBLIC_ROUTES`) matched on
the path as the gateway decoded it; each id segment is encoded again, whole, when it is
forwarded. So no encoding of ``..`` (``%252e%252e`` used to be decoded here, then again by
the HTTP client, which resolved it) can reach the internal API, ``/metrics`` or the docs.
"""

from __future__ import annotations

import aiohttp
from fastapi import APIRouter, Request, Response
from yarl import URL

from parley_common.errors import NotFound, Unavailable
from parley_common.ids import path_segment

_FORWARDED_REQUEST = ("authorization", "content-type", "accept", "x-request-id")
_FORWARDED_RESPONSE = ("content-type", "cache-control", "retry-after", "x-request-id")

ID = None  # a path segment that is an id, in PUBLIC_ROUTES
# PROTOCOL §5 (and §7's client config, and DEV_MODE's token minting), under /api/.
PUBLIC_ROUTES: tuple[tuple[str | None, ...], ...] = (
    ("conversations",),
    ("conversations", ID),
    ("conversations", ID, "messages"),
    ("conversations", ID, "delivered"),
    ("conversations", ID, "read"),
    ("client-config",),
    ("dev", "token"),
)


def public_target(path: str) -> str | None:
    """The path to forward for a decoded request ``path``, or None when it is no public route."""
    if not path.startswith("/api/"):
        return None
    segments = path.removeprefix("/api/").split("/")
    for route in PUBLIC_ROUTES:
        if len(route) == len(segments) and all(
            segment if part is ID else part == segment for part, segment in zip(route, segments, strict=True)
        ):
            return "/api/" + "/".join(path_segment(segment) for segment in segments)
    return None


class ApiProxy:
    """aiohttp rather than httpx: with hundreds of requests in flight, httpx's pool spent
    a quarter of the gateway's CPU choosing connections (py-spy, 200 concurrent creates)."""

    def __init__(self, base_url: str, *, timeout_s: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=4.0),
            auto_decompress=False,
        )

    async def forward(self, request: Request, target: str) -> Response:
        headers = {k: v for k, v in request.headers.items() if k in _FORWARDED_REQUEST}
        try:
            async with self._session.request(
                request.method,
                URL(self._base_url + target, encoded=True),  # encoded: sent exactly as built
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
        target = public_target(request.scope["path"])  # decoded once; request.url would re-parse it
        if target is None:
            raise NotFound("no such route")
        proxy: ApiProxy = request.state.api_proxy
        return await proxy.forward(request, target)

    return api
