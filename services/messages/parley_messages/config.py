"""Settings of the messages service (see README.md for every variable)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from parley_common.config import (
    DatabaseSettings,
    EventLimitSettings,
    InternalApiSettings,
    JwtSettings,
    ParleySettings,
    RedisSettings,
)


class ClientConfigSettings(ParleySettings):
    """The ceiling the SDKs follow (PROTOCOL §7, ``GET /api/client-config``): how far each
    feature may use Socket.IO. Turning one back to ``http`` / ``off`` moves every client at
    its next config read (at most 5 minutes, or at once on reconnect) without an app release."""

    client_messages: Literal["socket", "http"] = Field(
        default="socket",
        description="CLIENT_MESSAGES: `socket` (clients may send and receive messages over "
        "Socket.IO) or `http` (they poll `GET …/messages` and send with `POST …/messages`).",
    )
    client_typing: Literal["socket", "off"] = Field(
        default="socket", description="CLIENT_TYPING: `socket` (typing indicators on) or `off`."
    )
    client_presence: Literal["socket", "http"] = Field(
        default="socket",
        description="CLIENT_PRESENCE: `socket` (`user:online` / `user:offline` events) or `http` "
        "(clients read members' `online` from `GET /api/conversations/{id}` at each poll).",
    )
    client_http_poll_interval_ms: int = Field(
        default=3000,
        ge=50,
        le=600_000,
        description="CLIENT_HTTP_POLL_INTERVAL_MS: how often a client polls what it takes over "
        "HTTP (each polled conversation costs one request per interval, two with http presence).",
    )


class MessagesSettings(
    JwtSettings,
    DatabaseSettings,
    RedisSettings,
    InternalApiSettings,
    EventLimitSettings,
    ClientConfigSettings,
):
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
