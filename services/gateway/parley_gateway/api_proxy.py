"""Optional: forward ``/api/*`` to the messages service (API_PROXY_URL).

In Kubernetes the ingress routes ``/api`` to the messages service itself and this stays
off. Set-ups with nothing in front of the gateways (``make cluster``, a bare VM) turn it
on so that one base URL serves both the socket and the HTTP API.
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request, Response

from parley_common.errors import Unavailable

_FORWARDED_REQUEST = ("authorization", "content-type", "accept", "x-request-id")
_FORWARDED_RESPONSE = ("content-type", "retry-after", "x-request-id")


def create_client(base_url: str, *, timeout_s: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)


def router() -> APIRouter:
    api = APIRouter(include_in_schema=False)

    @api.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def forward(path: str, request: Request) -> Response:
        client: httpx.AsyncClient = request.state.api_proxy
        headers = {k: v for k, v in request.headers.items() if k in _FORWARDED_REQUEST}
        try:
            answer = await client.request(
                request.method,
                request.url.path,
                params=request.query_params,
                content=await request.body(),
                headers=headers,
            )
        except httpx.TransportError:
            raise Unavailable("the messages service is unreachable") from None
        kept = {k: v for k, v in answer.headers.items() if k in _FORWARDED_RESPONSE}
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    return api
