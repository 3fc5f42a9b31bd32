"""Settings of the gateway (see README.md for every variable)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from parley_common.config import (
    EventLimitSettings,
    InternalApiSettings,
    JwtSettings,
    RedisSettings,
    split_commas,
)
from parley_common.serve import STOP_TIMEOUT_S
from parley_gateway.origins import OriginPolicy
from parley_gateway.transport.ws_protocol import WebSocketProtocol


class GatewaySettings(JwtSettings, RedisSettings, InternalApiSettings, EventLimitSettings):
    messages_url: str = Field(
        default="http://127.0.0.1:8001",
        description="MESSAGES_URL: base URL of the messages service's internal API.",
    )
    internal_timeout_s: float = Field(
        default=3.0,
        gt=0,
        le=30,
        description="INTERNAL_TIMEOUT_S: longest wait for the messages service before an event is "
        "answered `unavailable`. Keep it under the clients' 5 s ack wait.",
    )
    ping_interval_ms: int = Field(
        default=2000,
        ge=250,
        le=60_000,
        description="PING_INTERVAL_MS: Engine.IO ping interval. Interval + timeout is how long a dead "
        "link can go unnoticed; PROTOCOL §1 wants under 5 s.",
    )
    ping_timeout_ms: int = Field(
        default=2500, ge=250, le=60_000, description="PING_TIMEOUT_MS: Engine.IO pong wait."
    )
    max_packet_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="MAX_PACKET_BYTES: largest Socket.IO packet (or polling POST) accepted; a bigger "
        "one closes that connection.",
    )
    max_outgoing_bytes: int = Field(
        default=1024 * 1024,
        ge=64 * 1024,
        le=256 * 1024 * 1024,
        description="MAX_OUTGOING_BYTES: most a connection may have waiting for its client to read "
        "(its send queue and its socket's buffer); a client further behind is disconnected, as a "
        "reader too slow to keep up. Keep it well above SYNC_MAX_BYTES (one sync page).",
    )
    max_events_in_flight: int = Field(
        default=16,
        ge=1,
        le=1024,
        description="MAX_EVENTS_IN_FLIGHT: events of one connection handled at once; while that "
        "many wait for their answers, nothing more is read from the connection.",
    )
    max_connections_per_user: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="MAX_CONNECTIONS_PER_USER: sockets one user may hold on this gateway (every "
        "device and tab); one more is refused `too_many_connections`.",
    )
    max_connections_per_address: int = Field(
        default=500,
        ge=1,
        le=1_000_000,
        description="MAX_CONNECTIONS_PER_ADDRESS: Engine.IO transports one client address may hold "
        "on this gateway, authenticated or not; one more is answered 429. Behind a proxy, the "
        "address is the client's only when the proxy is trusted (uvicorn's FORWARDED_ALLOW_IPS).",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1,::1",
        description="FORWARDED_ALLOW_IPS: proxies whose X-Forwarded-For / -Proto are believed "
        "(comma-separated addresses, or `*`), so that the client address (connection caps) is "
        "the client's; set it to the ingress controller's, and only let the proxy reach the gateway.",
    )
    typing_relay_interval_ms: int = Field(
        default=2000,
        ge=0,
        le=3000,
        description="TYPING_RELAY_INTERVAL_MS: a repeated `typing:start` is relayed to the room at "
        "most this often per user and conversation (clients repeat it every 3 s).",
    )
    connect_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="CONNECT_TIMEOUT_S: how long a transport may stay open without an accepted "
        "Socket.IO CONNECT (no token yet, or a refused one) before it is closed.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="CORS_ORIGINS: comma-separated browser origins allowed to connect, or `*` (any, "
        "without credentials). Empty: same origin only (in DEV_MODE also pages from localhost and "
        "private networks). Non-browser clients are not affected.",
    )
    drain_timeout_s: float = Field(
        default=10.0,
        ge=0,
        le=300,
        description="DRAIN_TIMEOUT_S: on SIGTERM, how long in-flight events may take to finish "
        "before the connections are closed (clients then reconnect elsewhere).",
    )
    presence_gateway_ttl_s: float = Field(
        default=15.0,
        ge=1,
        le=60,
        description="PRESENCE_GATEWAY_TTL_S: lifetime of this gateway's liveness key, refreshed every "
        "third of it. A gateway silent for longer is taken for dead and its sockets leave presence "
        "(PROTOCOL §4.4: within 30 s, grace period included).",
    )
    web_ui: bool = Field(
        default=True,
        description="WEB_UI: serve the chat page (clients/web, built into the package) at `/`: "
        "`true` or `false`.",
    )
    api_proxy_url: str | None = Field(
        default=None,
        description="API_PROXY_URL: when set, the gateway forwards /api/* to this base URL (the "
        "messages service), for set-ups without an ingress such as `make cluster`.",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        return split_commas(value)

    @field_validator("api_proxy_url")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value or None

    def server_options(self) -> dict[str, Any]:
        """uvicorn options the gateway needs, wherever it is served (alone or embedded)."""
        return {
            "ws": WebSocketProtocol,
            "ws_max_size": self.max_packet_bytes,
            # Engine.IO pings every socket every PING_INTERVAL_MS already; uvicorn's own
            # WebSocket pings on top would only cost CPU per idle socket.
            "ws_ping_interval": None,
            "forwarded_allow_ips": self.forwarded_allow_ips,
            # Bounds the wait for long-polling requests after the drain.
            "timeout_graceful_shutdown": self.graceful_timeout_s,
        }

    @property
    def graceful_timeout_s(self) -> float:
        return self.drain_timeout_s + 5

    @property
    def stop_timeout_s(self) -> float:
        """From SIGTERM to the exit at the latest: the drain, then the wait for requests
        (:attr:`graceful_timeout_s`), then the lifespan's own shutdown."""
        return self.drain_timeout_s + self.graceful_timeout_s + STOP_TIMEOUT_S

    def origin_policy(self) -> OriginPolicy:
        """Which browser origins may connect (python-engineio's ``cors_allowed_origins``)."""
        return OriginPolicy(self.cors_origins, dev_mode=self.dev_mode)
