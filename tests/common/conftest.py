"""Fixtures shared by the libs/common tests."""

from __future__ import annotations

import os

import pytest

from parley_common.config import DatabaseSettings, InternalApiSettings, JwtSettings, RedisSettings

# Every variable a settings class of libs/common reads (pydantic-settings matches them
# case-insensitively, so lower-case spellings are cleared too).
PARLEY_ENV_VARS = frozenset(
    name.upper()
    for cls in (JwtSettings, DatabaseSettings, InternalApiSettings, RedisSettings)
    for name in cls.model_fields
)


@pytest.fixture(autouse=True)
def clean_parley_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's or CI's environment out of every settings object built here."""
    for name in list(os.environ):
        if name.upper() in PARLEY_ENV_VARS:
            monkeypatch.delenv(name)
