"""Settings of the messages service (see README.md for every variable)."""

from __future__ import annotations

from pydantic import Field

from parley_common.config import (
    DatabaseSettings,
    EventLimitSettings,
    InternalApiSettings,
    JwtSettings,
    RedisSettings,
)


class MessagesSettings(JwtSettings, DatabaseSettings, RedisSettings, InternalApiSettings, EventLimitSettings):
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="MAX_BODY_BYTES: largest HTTP request body accepted (413 above).",
    )
    sync_max_bytes: int = Field(
        default=256 * 1024,
        ge=16 * 1024,
        le=16 * 1024 * 1024,
        description="SYNC_MAX_BYTES: a sync page (`messages:sync`, `GET …/messages`) holds at most "
        "about this much message text; it ends early with `hasMore: true` (always at least one "
        "message). Keep it well under the gateway's MAX_OUTGOING_BYTES.",
    )
