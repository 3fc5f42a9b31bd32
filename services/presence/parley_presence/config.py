"""Settings of the presence service (see README.md for every variable)."""

from __future__ import annotations

from parley_common.config import InternalApiSettings, RedisSettings


class PresenceSettings(RedisSettings, InternalApiSettings):
    pass
