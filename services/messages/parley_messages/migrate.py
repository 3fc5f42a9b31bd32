"""Alembic, driven from code: ``upgrade(url)`` brings a database to the newest schema."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from parley_common.config import normalize_database_url
from parley_messages.db import ensure_sqlite_directory


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "parley_messages:migrations")
    # ConfigParser interpolation would choke on "%" in passwords.
    config.set_main_option("sqlalchemy.url", normalize_database_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Run pending migrations. Blocking: call it before the event loop, or in a thread."""
    ensure_sqlite_directory(normalize_database_url(database_url))
    command.upgrade(alembic_config(database_url), revision)
