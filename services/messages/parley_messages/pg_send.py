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
from parley_messages.models import read_text
from parley_messages.outages import RAW_OUTAGES, is_outage

SEND_CONTEXT = """
SELECT c.last_seq,
       EXISTS (SELECT 1 FROM conversation_members m
               WHERE m.conversation_id = c.id AND m.user_id = $2) AS is_member,
       msg.id, msg.conversation_id, msg.sender_id, msg.client_message_id, msg.body, msg.body_escaped,
       msg.seq, msg.created_at
FROM conversations c
LEFT JOIN messages msg ON msg.sender_id = $2 AND msg.client_message_id = $3
WHERE c.id = $1
"""
BUMP = "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq"
INSERT = """
INSERT INTO messages (id, conversation_id, sender_id, client_message_id, body, body_escaped, seq, created_at)
VALUES ($1, $2, $3, $4, $5, TRUE, $6, $7)
ON CONFLICT (sender_id, client_message_id) DO NOTHING
RETURNING id, conversation_id, sender_id, client_message_id, body, body_escaped, seq, created_at
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
        body=read_text(row["body"], row["body_escaped"]),
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


# A whole batch of sends in one statement, so one round trip and atomic: every send's checks
# (conversation, membership, the idempotency key stored before or repeated earlier in the
# batch) and the insert of those that pass and were admitted by the rate limit. The
# conversations' rows are locked in id order, each bumped once by its number of new
# messages, and the messages inserted with the seqs that makes, in batch order. No ON
# CONFLICT: a key taken meanwhile by a concurrent send fails the whole statement (bump
# included), which the caller answers by redoing the batch send by send.
SEND_BATCH = """
WITH checked AS MATERIALIZED (
  SELECT i.*, c.id IS NOT NULL AS found, m.user_id IS NOT NULL AS is_member,
         old.id AS old_id, old.conversation_id AS old_conversation_id, old.body AS old_body,
         old.body_escaped AS old_body_escaped, old.seq AS old_seq, old.created_at AS old_created_at
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[]) WITH ORDINALITY
       AS i(id, conversation_id, sender_id, client_message_id, body, admitted, ord)
  LEFT JOIN conversations c ON c.id = i.conversation_id
  LEFT JOIN conversation_members m ON m.conversation_id = i.conversation_id AND m.user_id = i.sender_id
  LEFT JOIN messages old ON old.sender_id = i.sender_id AND old.client_message_id = i.client_message_id
), passing AS MATERIALIZED (
  SELECT p.*, row_number() OVER (PARTITION BY p.sender_id, p.client_message_id ORDER BY p.ord) AS nth
  FROM checked p WHERE p.found AND p.is_member AND p.old_id IS NULL
), fresh AS (
  SELECT f.*, row_number() OVER (PARTITION BY f.conversation_id ORDER BY f.ord) AS pos
  FROM passing f WHERE f.nth = 1 AND f.admitted
), wanted AS (
  SELECT conversation_id, count(*) AS n FROM fresh GROUP BY conversation_id
), locked AS (
  SELECT c.id FROM conversations c JOIN wanted w ON w.conversation_id = c.id
  ORDER BY c.id FOR UPDATE OF c
), bumped AS (
  UPDATE conversations c SET last_seq = c.last_seq + w.n
  FROM wanted w, locked l WHERE c.id = w.conversation_id AND l.id = c.id
  RETURNING c.id, c.last_seq AS last, w.n
), stored AS (
  INSERT INTO messages
    (id, conversation_id, sender_id, client_message_id, body, body_escaped, seq, created_at)
  SELECT f.id, f.conversation_id, f.sender_id, f.client_message_id, f.body, TRUE, b.last - b.n + f.pos, $7
  FROM fresh f JOIN bumped b ON b.id = f.conversation_id
  ORDER BY f.ord
  RETURNING id, seq
)
SELECT ch.found, ch.is_member, p.nth, ch.old_id, ch.old_conversation_id, ch.old_body,
       ch.old_body_escaped, ch.old_seq, ch.old_created_at, s.seq AS new_seq
FROM checked ch LEFT JOIN passing p ON p.ord = ch.ord LEFT JOIN stored s ON s.id = ch.id
ORDER BY ch.ord
"""
# One statement, one snapshot: the conversation and its members, no transaction around it.
CONVERSATION_WITH_MEMBERS = """
SELECT c.id, c.title, c.title_escaped, c.created_at, c.last_seq,
       m.user_id, m.last_delivered_seq, m.last_read_seq
FROM conversations c LEFT JOIN conversation_members m ON m.conversation_id = c.id
WHERE c.id = $1
ORDER BY m.user_id
"""
RACES = (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError)


class PgBatchPath(PgSendPath):
    """Many sends checked and stored in one statement; the join snapshot in another."""

    async def conversation_with_members(self, conversation_id: str) -> list[Any]:
        """One row per member (conversation columns repeated); empty when there is no such
        conversation."""
        async with self._raw() as conn:
            return list(await conn.fetch(CONVERSATION_WITH_MEMBERS, conversation_id))

    async def send_batch(
        self, rows: list[tuple[str, str, str, str, str]], admitted: list[bool], *, created_at: datetime
    ) -> list[Any] | None:
        """Check and store (id, conversation, sender, clientMessageId, body) rows: one result row
        per send, in order (see :data:`SEND_BATCH`); None, and nothing stored, when a key was
        taken meanwhile by a concurrent send."""
        columns = [list(column) for column in zip(*rows, strict=True)]
        try:
            async with self._raw() as conn:
                return list(await conn.fetch(SEND_BATCH, *columns, admitted, created_at))
        except RACES:
            return None
