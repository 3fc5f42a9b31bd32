"""Settings pieces shared by the services, read from environment variables.

Each service composes the pieces it needs into one settings class and loads it once at
start with :func:`load_settings`, which turns a validation error into one readable
message per bad variable. Every field is documented where it is declared; README.md lists
them all.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from parley_common.channels import BusRouting, Router
from parley_common.event_limits import EventKind, EventLimit

DEV_JWT_SECRET = "dev-secret"
DEV_INTERNAL_TOKEN = "dev-internal-token"
# Values that are fine on a laptop and a disaster in production.
_PLACEHOLDERS = {DEV_JWT_SECRET, DEV_INTERNAL_TOKEN, "secret", "changeme", "change-me", "test"}
_HMAC_ALGORITHMS = {"HS256", "HS384", "HS512"}
_PUBLIC_KEY_ALGORITHMS = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}


def split_commas(value: Any) -> Any:
    """``"a, b,"`` from the environment → ``["a", "b"]``; anything else as it is."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ConfigError(Exception):
    """Raised for settings that cannot work together; the message names the variables."""


class ParleySettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    dev_mode: bool = Field(
        default=False,
        description="DEV_MODE: enables POST /api/dev/token and development defaults for "
        "JWT_SECRET and INTERNAL_TOKEN. Never on in production.",
    )
    port: int = Field(default=8000, ge=1, le=65535, description="PORT: HTTP port to listen on.")
    host: str = Field(
        default="",
        description="HOST: interface to listen on. Default: 0.0.0.0 (every interface), but "
        "127.0.0.1 in DEV_MODE, where anyone who can reach the server can sign in as anyone.",
    )
    metrics_port: int = Field(
        default=9090,
        ge=0,
        le=65535,
        description="METRICS_PORT: port of `/metrics` (Prometheus), on HOST, apart from the public "
        "port so that it is never routed to the internet; 0 turns it off.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="ALLOWED_HOSTS: comma-separated `Host` names (`*.example.com` too) the HTTP "
        "routes answer to, besides localhost and IP addresses. Empty: any, but in DEV_MODE none "
        "(a web page that points its own name at this server is refused).",
    )
    log_format: Literal["json", "text"] | None = Field(
        default=None,
        description="LOG_FORMAT: `json` (one object per line, for log pipelines) or `text`. "
        "Default: json, text in DEV_MODE.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="LOG_LEVEL: the least severe level logged."
    )

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        return split_commas(value)

    @model_validator(mode="after")
    def _default_host(self) -> Self:
        if not self.host:
            object.__setattr__(self, "host", "127.0.0.1" if self.dev_mode else "0.0.0.0")
        return self

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json" or (self.log_format is None and not self.dev_mode)


class JwtSettings(ParleySettings):
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="JWT_SECRET: shared secret for HS256/384/512 tokens. "
        "Defaults to 'dev-secret' in DEV_MODE only; required otherwise when an HS algorithm is allowed.",
    )
    jwt_algorithms: Annotated[list[str], NoDecode] = Field(
        default=["HS256"],
        description="JWT_ALGORITHMS: comma-separated algorithms accepted (HS256, RS256, ...). "
        "'none' is never accepted.",
    )
    jwt_public_key: str | None = Field(
        default=None,
        description="JWT_PUBLIC_KEY: PEM public key for RS*/ES* tokens (the PEM text itself).",
    )
    jwt_issuer: str | None = Field(default=None, description="JWT_ISSUER: required `iss` when set.")
    jwt_audience: str | None = Field(default=None, description="JWT_AUDIENCE: required `aud` when set.")
    jwt_leeway_s: int = Field(
        default=0, ge=0, le=300, description="JWT_LEEWAY_S: clock skew allowed on `exp`, in seconds."
    )

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: Any) -> Any:
        return split_commas(value)

    @field_validator("jwt_algorithms")
    @classmethod
    def _known_algorithms(cls, value: list[str]) -> list[str]:
        known = _HMAC_ALGORITHMS | _PUBLIC_KEY_ALGORITHMS
        unknown = [alg for alg in value if alg not in known]
        if unknown:
            raise ValueError(f"unsupported algorithm(s) {unknown}; choose from {sorted(known)}")
        if not value:
            raise ValueError("at least one algorithm is required")
        return value

    @model_validator(mode="after")
    def _keys_for_algorithms(self) -> Self:
        wants_hmac = any(alg in _HMAC_ALGORITHMS for alg in self.jwt_algorithms)
        wants_public = any(alg in _PUBLIC_KEY_ALGORITHMS for alg in self.jwt_algorithms)
        if wants_hmac:
            if self.jwt_secret is None:
                if not self.dev_mode:
                    raise ValueError(
                        "JWT_SECRET is required for HS* algorithms outside DEV_MODE: set it to the secret "
                        "your tokens are signed with (at least 16 characters), or set JWT_ALGORITHMS=RS256 "
                        "and JWT_PUBLIC_KEY, or DEV_MODE=true on a development machine"
                    )
                object.__setattr__(self, "jwt_secret", SecretStr(DEV_JWT_SECRET))
            elif not self.dev_mode:
                _refuse_weak_secret("JWT_SECRET", self.jwt_secret.get_secret_value(), min_length=16)
        if wants_public and not self.jwt_public_key:
            raise ValueError(
                "JWT_PUBLIC_KEY is required for RS*/ES* algorithms: set it to the PEM public key "
                "that verifies your tokens"
            )
        return self


class DatabaseSettings(ParleySettings):
    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/parley.db",
        description="DATABASE_URL: postgresql://user@host/db (asyncpg) or sqlite:///path (aiosqlite).",
    )
    db_pool_size: int = Field(default=20, ge=1, le=200, description="DB_POOL_SIZE: connections kept open.")
    db_max_overflow: int = Field(
        default=10,
        ge=0,
        le=500,
        description="DB_MAX_OVERFLOW: extra connections under bursts; each is opened and closed "
        "per use, so a pool too small for the steady load churns connections.",
    )
    db_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="DB_TIMEOUT_S: connect and statement timeout, seconds."
    )

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return normalize_database_url(value)


class RedisSettings(ParleySettings):
    redis_url: str | None = Field(
        default=None,
        description="REDIS_URL: redis://host:port/db. Unset: in-process bus, presence and rate "
        "limits (one process only: the embedded default).",
    )
    redis_prefix: str = Field(
        default="parley",
        description="REDIS_PREFIX: prefix of every Redis key and channel (lets deployments share a server).",
    )
    redis_cluster: bool = Field(
        default=False,
        description="REDIS_CLUSTER: true when REDIS_URL is a node of a Redis Cluster (7.0 or newer): "
        "the bus uses sharded pub/sub, every script touches one slot. False: a single Redis.",
    )
    redis_sentinels: Annotated[list[str], NoDecode, BeforeValidator(split_commas)] = Field(
        default_factory=list,
        description="REDIS_SENTINELS: `host:port,host:port,...` of Redis Sentinels (instead of "
        "REDIS_URL): every client asks them for the current master of REDIS_SENTINEL_MASTER, and "
        "again after a failover.",
    )
    redis_sentinel_master: str | None = Field(
        default=None, description="REDIS_SENTINEL_MASTER: the name the sentinels monitor the master under."
    )
    redis_sentinel_password: SecretStr | None = Field(
        default=None,
        description="REDIS_SENTINEL_PASSWORD: the sentinels' password (`requirepass` in sentinel.conf).",
    )
    redis_password: SecretStr | None = Field(
        default=None,
        description="REDIS_PASSWORD: the master's and replicas' password with REDIS_SENTINELS "
        "(with REDIS_URL it goes in the URL).",
    )
    bus_routing: BusRouting = Field(
        default=BusRouting.ROOMS,
        description="BUS_ROUTING: `rooms` (a channel per conversation and per user; each gateway "
        "hears only the rooms of its sockets) or `single` (one channel every gateway hears: the "
        "old design, for comparison). The same value on every service.",
    )

    def router(self) -> Router:
        return Router(self.bus_routing)

    @property
    def uses_redis(self) -> bool:
        """A Redis is configured: a URL, or sentinels that name the master."""
        return bool(self.redis_url or self.redis_sentinels)

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinel_addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"expected host:port,host:port,... (got {address!r})")
        return value

    @model_validator(mode="after")
    def _sentinel_mode(self) -> Self:
        if not self.redis_sentinels:
            if self.redis_sentinel_master:
                raise ValueError("REDIS_SENTINEL_MASTER: needs REDIS_SENTINELS")
            return self
        if self.redis_url:
            raise ValueError("REDIS_SENTINELS: set either REDIS_URL or REDIS_SENTINELS, not both")
        if self.redis_cluster:
            raise ValueError("REDIS_SENTINELS: a Redis Cluster fails over by itself; not with REDIS_CLUSTER")
        if not self.redis_sentinel_master:
            raise ValueError("REDIS_SENTINELS: needs REDIS_SENTINEL_MASTER (the monitored master's name)")
        return self

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):  # "" means unset
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @model_validator(mode="after")
    def _cluster_url(self) -> Self:
        if not self.redis_cluster:
            return self
        if not self.redis_url:
            if self.redis_sentinels:
                return self  # refused by _sentinel_mode, with a clearer message
            raise ValueError("REDIS_CLUSTER: needs REDIS_URL (any node of the cluster)")
        if self.redis_url.startswith("unix://"):
            raise ValueError("REDIS_CLUSTER: the nodes of a cluster are reached over TCP, not unix://")
        if re.search(r"://[^/]+/(?!0?$)[^?]+", self.redis_url):
            raise ValueError("REDIS_CLUSTER: a cluster has database 0 only; drop the /N from REDIS_URL")
        return self


def _event_limit(value: Any) -> Any:
    """``"10,100"`` from the environment → 10 events per second, bursts of 100."""
    if not isinstance(value, str):
        return value
    parts = split_commas(value)
    try:
        rate, burst = float(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        raise ValueError("expected `<events per second>,<burst>`, e.g. `10,100`") from None
    if len(parts) != 2 or not 0 < rate <= 10_000 or not 1 <= burst <= 100_000:
        raise ValueError("expected `<events per second>,<burst>`, 0 < rate <= 10000, 1 <= burst <= 100000")
    return EventLimit(rate=rate, burst=burst)


EventLimitField = Annotated[EventLimit, NoDecode, BeforeValidator(_event_limit)]


class EventLimitSettings(ParleySettings):
    """Per-user limits on client events other than sends (:mod:`parley_common.event_limits`)."""

    rate_limit_sync: EventLimitField = Field(
        default=EventLimit(rate=10, burst=100),
        description="RATE_LIMIT_SYNC: `messages:sync` and `GET …/messages` per user, as "
        "`<per second>,<burst>` (default `10,100`: a reconnect syncs every conversation shown).",
    )
    rate_limit_room: EventLimitField = Field(
        default=EventLimit(rate=20, burst=200),
        description="RATE_LIMIT_ROOM: `conversation:join` and `conversation:leave` per user (`20,200`).",
    )
    rate_limit_typing: EventLimitField = Field(
        default=EventLimit(rate=5, burst=20),
        description="RATE_LIMIT_TYPING: `typing:start` per user (`5,20`); relays are coalesced too.",
    )
    rate_limit_receipts: EventLimitField = Field(
        default=EventLimit(rate=20, burst=100),
        description="RATE_LIMIT_RECEIPTS: `message:delivered` and `message:read` per user (`20,100`).",
    )

    def event_limits(self) -> dict[EventKind, EventLimit]:
        return {
            EventKind.SYNC: self.rate_limit_sync,
            EventKind.ROOM: self.rate_limit_room,
            EventKind.TYPING: self.rate_limit_typing,
            EventKind.RECEIPT: self.rate_limit_receipts,
        }


class InternalApiSettings(ParleySettings):
    internal_token: SecretStr | None = Field(
        default=None,
        description="INTERNAL_TOKEN: shared secret guarding the services' internal HTTP APIs. "
        "Defaults to a development value in DEV_MODE only.",
    )

    @model_validator(mode="after")
    def _internal_token_set(self) -> Self:
        if self.internal_token is None:
            if not self.dev_mode:
                raise ValueError(
                    "INTERNAL_TOKEN is required outside DEV_MODE: set it to a random secret of at least "
                    "16 characters, the same for every service (e.g. `openssl rand -hex 32`), or "
                    "DEV_MODE=true on a development machine"
                )
            object.__setattr__(self, "internal_token", SecretStr(DEV_INTERNAL_TOKEN))
        elif not self.dev_mode:
            _refuse_weak_secret("INTERNAL_TOKEN", self.internal_token.get_secret_value(), min_length=16)
        return self

    @property
    def internal_token_value(self) -> str:
        assert self.internal_token is not None  # set by the validator
        return self.internal_token.get_secret_value()


def _refuse_weak_secret(name: str, value: str, *, min_length: int) -> None:
    if value.lower() in _PLACEHOLDERS:
        raise ValueError(f"{name} is a placeholder value; set a real secret (or DEV_MODE=true)")
    if len(value) < min_length:
        raise ValueError(f"{name} must be at least {min_length} characters outside DEV_MODE")


def normalize_database_url(url: str) -> str:
    """Map plain URLs to the async drivers Parley uses (asyncpg, aiosqlite)."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        return url
    raise ValueError("must be a postgresql:// or sqlite:// URL")


SettingsT = TypeVar("SettingsT", bound=BaseSettings)
# The cross-variable checks above start their message with the variable to set.
_VARIABLE_FIRST = re.compile(r"([A-Z][A-Z0-9_]+) ")


def format_validation_error(exc: ValidationError) -> str:
    """One line per bad variable, named; a check across variables names the one to set."""
    lines = ["Invalid configuration:"]
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["loc"]:
            lines.append(f"  {'.'.join(str(part) for part in error['loc']).upper()}: {message}")
        elif _VARIABLE_FIRST.match(message):
            lines.append(f"  {message}")  # "INTERNAL_TOKEN is required …: set it to …"
        else:
            lines.append(f"  settings: {message}")
    lines.append("Settings are environment variables; README.md (Configuration) lists every one.")
    return "\n".join(lines)


def load_settings(cls: type[SettingsT], **overrides: Any) -> SettingsT:
    """Read ``cls`` from the environment; raise :class:`ConfigError` with a clear message."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None


BuiltT = TypeVar("BuiltT")


def build_or_exit(build: Callable[[], BuiltT]) -> BuiltT:
    """For entry points: settings that cannot work together (a :class:`ConfigError` raised
    while building the app) end the process like bad settings do, status 2."""
    try:
        return build()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


CONFIG_HELP = (
    "Settings are environment variables, read and checked at start (README.md, Configuration, "
    "lists every one). DEV_MODE=true gives development defaults; otherwise JWT_SECRET (or "
    "JWT_ALGORITHMS=RS256 with JWT_PUBLIC_KEY) and INTERNAL_TOKEN are required."
)


def parse_command_line(prog: str, description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """For entry points without arguments of their own: ``--help`` works before (and without)
    any configuration."""
    return argparse.ArgumentParser(prog=prog, description=description, epilog=CONFIG_HELP).parse_args(argv)


def load_settings_or_exit(cls: type[SettingsT]) -> SettingsT:
    """For entry points: print the configuration problem and exit with status 2."""
    try:
        return load_settings(cls)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
