"""The send store on PostgreSQL, in plain asyncpg: four round trips per batch, whatever its
size (take the keys' locks, check, store, commit), with the service's one to Redis (the rate
limit, for the sends the check found new) between the check and the store.

The keys are held with transaction-level advisory locks, taken in one order (so two batches
cannot deadlock on them): a concurrent send of the same key waits for this transaction, and
its check, a new statement and so a new snapshot, then finds the message stored.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_messages.pg_raw import raw_connection
from parley_messages.send_store import Checked, NewMessage, StoredMessage

CHECK = """
SELECT c.id IS NOT NULL AS found, m.user_id IS NOT NULL AS is_member,
       old.id, old.conversation_id, old.body, old.body_escaped, old.seq, old.created_at
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY
     AS i(conversation_id, sender_id, client_message_id, ord)
LEFT JOIN conversations c ON c.id = i.conversation_id
LEFT JOIN conversation_members m ON m.conversation_id = i.conversation_id AND m.user_id = i.sender_id
LEFT JOIN messages old ON old.sender_id = i.sender_id AND old.client_message_id = i.client_message_id
ORDER BY i.ord
"""
# The conversations' rows locked in id order, each bumped once by its number of new
# messages, and the messages inserted with the seqs that makes, in batch order.
STORE = """
WITH fresh AS (
  SELECT i.*, row_number() OVER (PARTITION BY i.conversation_id ORDER BY i.ord) AS pos
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY
       AS i(id, conversation_id, sender_id, client_message_id, body, ord)
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
  SELECT f.id, f.conversation_id, f.sender_id, f.client_message_id, f.body, TRUE, b.last - b.n + f.pos, $6
  FROM fresh f JOIN bumped b ON b.id = f.conversation_id
  ORDER BY f.ord
  RETURNING id, seq
)
SELECT s.seq FROM fresh f LEFT JOIN stored s ON s.id = f.id ORDER BY f.ord
"""


def key_lock(sender_id: str, client_message_id: str) -> int:
    """The advisory lock (a signed 64-bit number) of an idempotency key."""
    digest = hashlib.blake2b(f"{sender_id}\x00{client_message_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _begin_holding(sends: Sequence[NewMessage]) -> str:
    # Numbers we computed, inlined: BEGIN and the locks in one round trip (a simple query).
    locks = sorted({key_lock(s.sender_id, s.client_message_id) for s in sends})
    return "BEGIN; SELECT " + ", ".join(f"pg_advisory_xact_lock({lock})" for lock in locks)


class PgSendStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def send_txn(self, sends: Sequence[NewMessage]) -> AsyncIterator[_PgSendTxn]:
        async with raw_connection(self._engine) as conn:
            try:
                await conn.execute(_begin_holding(sends))
                rows = await conn.fetch(
                    CHECK,
                    [s.conversation_id for s in sends],
                    [s.sender_id for s in sends],
                    [s.client_message_id for s in sends],
                )
                yield _PgSendTxn(conn, [_checked(send, row) for send, row in zip(sends, rows, strict=True)])
            except BaseException:
                # Not to mask what failed (a connection still in the transaction is dropped).
                with contextlib.suppress(Exception):
                    await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")


class _PgSendTxn:
    def __init__(self, conn: asyncpg.Connection, checked: list[Checked]) -> None:
        self._conn = conn
        self.checked = checked

    async def store(self, sends: Sequence[NewMessage], *, created_at: datetime) -> list[int | None]:
        if not sends:
            return []
        columns = [list(column) for column in zip(*sends, strict=True)]
        return [row["seq"] for row in await self._conn.fetch(STORE, *columns, created_at)]


def _checked(send: NewMessage, row: asyncpg.Record) -> Checked:
    before = None
    if row["id"] is not None:
        before = StoredMessage(
            row["id"],
            row["conversation_id"],
            send.sender_id,
            send.client_message_id,
            row["body"],
            row["body_escaped"],
            row["seq"],
            row["created_at"],
        )
    return Checked(found=row["found"], is_member=row["is_member"], before=before)
