"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter

from parley_common.errors import Unavailable
from parley_messages.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, bool]:
    return {"ok": True}


@router.get("/readyz")
async def readyz(service: ServiceDep) -> dict[str, bool]:
    """Ready when the database answers (Redis outages degrade, they do not unready)."""
    try:
        await service.ping()
    except Unavailable:
        raise Unavailable("database unreachable") from None
    return {"ok": True}
