"""Development-only routes; mounted only when DEV_MODE is on."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from parley_common.auth import mint_token
from parley_common.timefmt import format_ts
from parley_common.wire import Id, WireModel
from parley_messages.deps import SettingsDep

router = APIRouter(prefix="/api/dev", tags=["dev"])

DEV_TOKEN_TTL_S = 24 * 3600


class DevTokenRequest(WireModel):
    user_id: Id


class DevToken(WireModel):
    token: str
    user_id: str
    expires_at: str


@router.post("/token")
async def dev_token(body: DevTokenRequest, settings: SettingsDep) -> DevToken:
    token, exp = mint_token(settings, body.user_id, ttl_s=DEV_TOKEN_TTL_S)
    return DevToken(token=token, user_id=body.user_id, expires_at=format_ts(datetime.fromtimestamp(exp, UTC)))
