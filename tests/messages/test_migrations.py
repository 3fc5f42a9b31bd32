"""Alembic's newest schema is exactly what the models declare, on both backends."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from parley_common.config import normalize_database_url
from parley_messages import models  # noqa: F401  (registers the tables)
from parley_messages.migrate import upgrade


def _diff(sync_connection: Any) -> list[Any]:
    context = MigrationContext.configure(sync_connection)
    return list(compare_metadata(context, SQLModel.metadata))


async def _schema_diff(url: str) -> list[Any]:
    engine = create_async_engine(normalize_database_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_diff)
    finally:
        await engine.dispose()


async def test_models_match_migrations(database_url: str) -> None:
    assert await _schema_diff(database_url) == []


async def test_upgrade_is_idempotent(postgres_url: str) -> None:
    await asyncio.to_thread(upgrade, postgres_url)
    assert await _schema_diff(postgres_url) == []
