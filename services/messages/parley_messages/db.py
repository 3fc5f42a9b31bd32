"""The database engine: created once per process by the lifespan, disposed on shutdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from parley_common.config import DatabaseSettings


def create_engine(settings: DatabaseSettings, *, application_name: str = "parley-messages") -> AsyncEngine:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(settings.database_url, timeout_s=settings.db_timeout_s)
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_timeout_s,
        # No pre-ping (a round trip per checkout): a dead connection fails its statement,
        # is invalidated, and the request is answered `unavailable`; the next one reconnects.
        pool_recycle=1800,
        connect_args={
            "timeout": settings.db_timeout_s,
            "command_timeout": settings.db_timeout_s,
            "server_settings": {"application_name": application_name},
        },
    )


def ensure_sqlite_directory(url: str) -> None:
    """SQLite creates the file but not its folder (``./var/`` on a fresh clone)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_engine(url: str, *, timeout_s: float) -> AsyncEngine:
    ensure_sqlite_directory(url)
    engine = create_async_engine(url, connect_args={"timeout": timeout_s})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, open transactions (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: a read-then-write transaction would
        # otherwise fail with "database is locked" instead of waiting its turn.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
