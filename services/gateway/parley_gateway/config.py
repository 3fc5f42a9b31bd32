"""Settings of the gateway (see README.md for every variable)."""

from __future__ import annotations

from pydantic import Field

from parley_common.config import InternalApiSettings, JwtSettings, RedisSettings


class GatewaySettings(JwtSettings, RedisSettings, InternalApiSettings):
    messages_url: str = Field(
        default="http://127.0.0.1:8001",
        description="MESSAGES_URL: base URL of the messages service's internal API.",
    )
    presence_url: str = Field(
        default="http://127.0.0.1:8002",
        description="PRESENCE_URL: base URL of the presence service's internal API.",
    )
