"""The hot paths on PostgreSQL in plain asyncpg, without the SQL builder: sends, and the
conversation read behind every ``conversation:join`` (a reconnect storm is all joins).

Same statements and transaction as :class:`parley_messages.store.MessageStore`'s portable
send path (which SQLite still uses), as prepared statements on the pool's raw asyncpg
connection. Measured at 200 msg/s, SQLAlchemy's statement building and execution was
over a third of the service's CPU per message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_common.errors import Unavailable
from parley_common.wire import Message
from parley_messages.outages import RAW_OUTAGES, is_outage

SEND_CONTEXT = """
SELECT c.last_seq,
       EXISTS (SELECT 1 FROM conversation_members m
               WHERE m.conversation_id = c.id AND m.user_id = $2) AS is_member,
       msg.id, msg.conversation_id, msg.sender_id, msg.client_message_id, msg.body, msg.seq,
       msg.created_at
FROM conversations c
LEFT JOIN messages msg ON msg.sender_id = $2 AND msg.client_message_id = $3
WHERE c.id = $1
"""
BUMP = "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq"
INSERT = """
INSERT INTO messages (id, conversation_id, sender_id, client_message_id, body, seq, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (sender_id, client_message_id) DO NOTHING
RETURNING id, conversation_id, sender_id, client_message_id, body, seq, created_at
"""
OUTAGES = RAW_OUTAGES


class Duplicate(Exception):
    """The idempotency key was taken meanwhile: the transaction is rolled back, bump and all."""


def message_of(row: Any) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        sender_id=row["sender_id"],
        client_message_id=row["client_message_id"],
        body=row["body"],
        seq=row["seq"],
        created_at=row["created_at"],
    )


class PgSendPath:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def _raw(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection, as asyncpg; dropped from the pool if it failed."""
        try:
            async with self._engine.connect() as conn:
                raw = await conn.get_raw_connection()
                try:
                    yield raw.driver_connection
                except OUTAGES:
                    await conn.invalidate()
                    raise
        except Exception as exc:
            if is_outage(exc):  # SQLAlchemy's pool wraps what a refused connection raises
                raise Unavailable("the database is unavailable; nothing was stored") from exc
            raise

    async def send_context(self, *, conversation_id: str, sender_id: str, client_message_id: str) -> Any:
        async with self._raw() as conn:
            return await conn.fetchrow(SEND_CONTEXT, conversation_id, sender_id, client_message_id)

    async def insert_txn(
        self,
        values: tuple[str, str, str, str, str],
        *,
        now: Callable[[], datetime],
        before_commit: Callable[[], Awaitable[None]],
    ) -> Message | None:
        """Bump the conversation's seq and insert; None (rolled back) when it exists already."""
        message_id, conversation_id, sender_id, client_message_id, body = values
        try:
            async with self._raw() as conn, conn.transaction():
                seq = await conn.fetchval(BUMP, conversation_id)
                if seq is None:
                    raise Duplicate  # the conversation vanished: nothing to store
                row = await conn.fetchrow(
                    INSERT, message_id, conversation_id, sender_id, client_message_id, body, seq, now()
                )
                if row is None:
                    raise Duplicate
                await before_commit()
                return message_of(row)
        except Duplicate:
            return None


BATCH_CONTEXT = """
SELECT i.ord, c.last_seq,
       EXISTS (SELECT 1 FROM conversation_members m
               WHERE m.conversation_id = c.id AND m.user_id = i.sender_id) AS is_member,
       msg.id, msg.conversation_id, msg.sender_id, msg.client_message_id, msg.body, msg.seq,
       msg.created_at
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY
     AS i(conversation_id, sender_id, client_message_id, ord)
LEFT JOIN conversations c ON c.id = i.conversation_id
LEFT JOIN messages msg ON msg.sender_id = i.sender_id AND msg.client_message_id = i.client_message_id
ORDER BY i.ord
"""
# One statement, so one round trip and atomic: the conversations' rows are locked in id
# order, each bumped once by its number of new messages, and the messages inserted with the
# seqs that makes, in batch order. No ON CONFLICT: a key taken meanwhile fails the whole
# statement (bump included), which the caller answers by redoing the batch send by send.
STORE_BATCH = """
WITH rows AS (
  SELECT r.*, row_number() OVER (PARTITION BY r.conversation_id ORDER BY r.ord) AS pos
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY
       AS r(id, conversation_id, sender_id, client_message_id, body, ord)
), wanted AS (
  SELECT conversation_id, count(*) AS n FROM rows GROUP BY conversation_id
), locked AS (
  SELECT c.id FROM conversations c JOIN wanted w ON w.conversation_id = c.id
  ORDER BY c.id FOR UPDATE OF c
), bumped AS (
  UPDATE conversations c SET last_seq = c.last_seq + w.n
  FROM wanted w, locked l WHERE c.id = w.conversation_id AND l.id = c.id
  RETURNING c.id, c.last_seq AS last, w.n
)
INSERT INTO messages (id, conversation_id, sender_id, client_message_id, body, seq, created_at)
SELECT r.id, r.conversation_id, r.sender_id, r.client_message_id, r.body, b.last - b.n + r.pos, $6
FROM rows r JOIN bumped b ON b.id = r.conversation_id
ORDER BY r.ord
RETURNING id, conversation_id, sender_id, client_message_id, body, seq, created_at
"""
# One statement, one snapshot: the conversation and its members, no transaction around it.
CONVERSATION_WITH_MEMBERS = """
SELECT c.id, c.title, c.created_at, c.last_seq, m.user_id, m.last_delivered_seq, m.last_read_seq
FROM conversations c LEFT JOIN conversation_members m ON m.conversation_id = c.id
WHERE c.id = $1
ORDER BY m.user_id
"""
RACES = (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError)


class PgBatchPath(PgSendPath):
    """Many sends in one round trip for the checks and one transaction for the inserts."""

    async def conversation_with_members(self, conversation_id: str) -> list[Any]:
        """One row per member (conversation columns repeated); empty when there is no such
        conversation."""
        async with self._raw() as conn:
            return list(await conn.fetch(CONVERSATION_WITH_MEMBERS, conversation_id))

    async def batch_context(self, keys: list[tuple[str, str, str]]) -> list[Any]:
        """Per (conversation, sender, clientMessageId): last_seq (None: no such conversation),
        is_member, and the message already stored under the key (id None: none)."""
        columns = [list(column) for column in zip(*keys, strict=True)]
        async with self._raw() as conn:
            return list(await conn.fetch(BATCH_CONTEXT, *columns))

    async def insert_batch_txn(
        self, rows: list[tuple[str, str, str, str, str]], *, created_at: datetime
    ) -> list[Message] | None:
        """Store new messages, seqs in row order per conversation; None (nothing stored)
        when one of the keys was taken meanwhile or a conversation vanished."""
        columns = [list(column) for column in zip(*rows, strict=True)]
        try:
            async with self._raw() as conn:
                stored = await conn.fetch(STORE_BATCH, *columns, created_at)
        except RACES:
            return None
        if len(stored) != len(rows):
            return None  # a conversation vanished: nothing of it was stored
        by_id = {row["id"]: message_of(row) for row in stored}
        return [by_id[row[0]] for row in rows]
