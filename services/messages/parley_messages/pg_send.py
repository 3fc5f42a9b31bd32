"""The send store on PostgreSQL, in plain asyncpg: one round trip per batch, whatever its
size, to ``parley_send_batch`` (created by ``migrations/versions/0003_send_in_one_call.py``).

The function takes a transaction-level advisory lock per sender, in one order (so two
batches cannot deadlock on them), then checks, counts and stores the batch in one statement.
A concurrent batch of the same sender waits for this transaction; its statement, started
after it got the lock, then finds what this one stored: a repeat sent concurrently with its
original is answered as a duplicate, and the rate limit's count of the last second is exact.
Locking per sender, not per key, is what lets the rate limit live here: a sender's sends
(at most a few a second) are never many at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_messages.pg_raw import raw_connection
from parley_messages.send_store import NewMessage, Outcome, StoredMessage

SEND_BATCH = "SELECT * FROM parley_send_batch($1, $2, $3, $4, $5, $6, $7, $8, $9)"


def sender_lock(sender_id: str) -> int:
    """The advisory lock (a signed 64-bit number) of a sender's sends."""
    digest = hashlib.blake2b(sender_id.encode(), digest_size=8, person=b"parley-send").digest()
    return int.from_bytes(digest, "big", signed=True)


class PgSendStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def send_batch(
        self, sends: Sequence[NewMessage], *, now: datetime, limit: int, window_ms: int
    ) -> list[Outcome]:
        if not sends:
            return []
        columns = [list(column) for column in zip(*sends, strict=True)]
        locks = sorted({sender_lock(s.sender_id) for s in sends})
        async with raw_connection(self._engine) as conn:
            rows = await conn.fetch(SEND_BATCH, *columns, now, limit, window_ms, locks)
        return [_outcome(send, row) for send, row in zip(sends, rows, strict=True)]


def _outcome(send: NewMessage, row: asyncpg.Record) -> Outcome:
    before = None
    if row["old_id"] is not None:
        before = StoredMessage(
            row["old_id"],
            row["old_conversation_id"],
            send.sender_id,
            send.client_message_id,
            row["old_body"],
            row["old_body_escaped"],
            row["old_seq"],
            row["old_created_at"],
        )
    return Outcome(row["found"], row["is_member"], before, row["seq"], row["wait_ms"])
