"""Plain asyncpg on the engine's pooled connections, for the hot statements: sends, and the
conversation read behind every ``conversation:join`` (a reconnect storm is all joins).

Measured at 200 msg/s, SQLAlchemy's statement building and execution was over a third of
the service's CPU per message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_common.errors import Unavailable
from parley_messages.outages import RAW_OUTAGES, is_outage

# One statement, one snapshot: the conversation and its members, no transaction around it.
CONVERSATION_WITH_MEMBERS = """
SELECT c.id, c.title, c.title_escaped, c.created_at, c.last_seq,
       m.user_id, m.last_delivered_seq, m.last_read_seq
FROM conversations c LEFT JOIN conversation_members m ON m.conversation_id = c.id
WHERE c.id = $1
ORDER BY m.user_id
"""


@asynccontextmanager
async def raw_connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection, as asyncpg; dropped from the pool if it failed or was left in a
    transaction."""
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            try:
                yield driver
            except BaseException as exc:
                # Broken, or left in a transaction the pool knows nothing of: not reused.
                if isinstance(exc, RAW_OUTAGES) or driver.is_in_transaction():
                    await conn.invalidate()
                raise
    except Exception as exc:
        if is_outage(exc):  # SQLAlchemy's pool wraps what a refused connection raises
            raise Unavailable("the database is unavailable; nothing was stored") from exc
        raise


async def conversation_with_members(engine: AsyncEngine, conversation_id: str) -> list[Any]:
    """One row per member (conversation columns repeated); empty when there is no such
    conversation."""
    async with raw_connection(engine) as conn:
        return list(await conn.fetch(CONVERSATION_WITH_MEMBERS, conversation_id))
