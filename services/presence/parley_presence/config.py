"""Settings of the presence service (see README.md for every variable)."""

from __future__ import annotations

from pydantic import Field

from parley_common.config import InternalApiSettings, RedisSettings


class PresenceSettings(RedisSettings, InternalApiSettings):
    presence_grace_ms: int = Field(
        default=2000,
        ge=0,
        le=8000,
        description="PRESENCE_GRACE_MS: how long user:offline waits for the user to come back "
        "(no flicker on a quick reconnect); they count as online meanwhile. PROTOCOL §4.4 wants "
        "the offline within 10 s of the last disconnect.",
    )
