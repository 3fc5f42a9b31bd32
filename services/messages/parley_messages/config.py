"""Settings of the messages service (see README.md for every variable)."""

from __future__ import annotations

from pydantic import Field

from parley_common.config import DatabaseSettings, InternalApiSettings, JwtSettings, RedisSettings


class MessagesSettings(JwtSettings, DatabaseSettings, RedisSettings, InternalApiSettings):
    max_body_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        description="MAX_BODY_BYTES: largest HTTP request body accepted (413 above).",
    )
