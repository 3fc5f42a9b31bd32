"""The send store of the embedded default, SQLite through SQLAlchemy. ``BEGIN IMMEDIATE``
takes the database's write lock first, so a batch is checked, counted and stored with no
other writer in between: the same outcomes as ``parley_send_batch`` on PostgreSQL, one
statement at a time (a single process on a local file: round trips cost nothing here)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from parley_messages.models import ConversationRow, MemberRow, MessageRow
from parley_messages.outages import outage_as_unavailable
from parley_messages.send_store import NewMessage, Outcome, StoredMessage

conversations = ConversationRow.__table__  # type: ignore[attr-defined]
members = MemberRow.__table__  # type: ignore[attr-defined]
messages = MessageRow.__table__  # type: ignore[attr-defined]


class SqliteSendStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def send_batch(
        self, sends: Sequence[NewMessage], *, now: datetime, limit: int, window_ms: int
    ) -> list[Outcome]:
        window = timedelta(milliseconds=window_ms)
        async with outage_as_unavailable(), self._engine.begin() as conn:
            outcomes = [await _check(conn, send) for send in sends]
            recent: dict[str, list[datetime]] = {}  # per sender, newest first
            seen_keys: set[tuple[str, str]] = set()
            for i, (send, outcome) in enumerate(zip(sends, outcomes, strict=True)):
                key = (send.sender_id, send.client_message_id)
                if not outcome.is_member or outcome.before is not None or key in seen_keys:
                    continue
                seen_keys.add(key)
                if send.sender_id not in recent:
                    recent[send.sender_id] = await _recent(conn, send.sender_id, now, window, limit)
                times = recent[send.sender_id]
                if len(times) >= limit:
                    wait = times[limit - 1] + window - now
                    outcomes[i] = outcome._replace(
                        wait_ms=max(1, math.ceil(wait / timedelta(milliseconds=1)))
                    )
                    continue
                times.append(now)
                times.sort(reverse=True)
                outcomes[i] = outcome._replace(seq=await _store(conn, send, now))
            return outcomes


async def _recent(
    conn: AsyncConnection, sender_id: str, now: datetime, window: timedelta, limit: int
) -> list[datetime]:
    created_at = messages.c.created_at
    query = (
        select(created_at)
        .where(and_(messages.c.sender_id == sender_id, created_at > now - window, created_at <= now + window))
        .order_by(created_at.desc())
        .limit(limit)
    )
    return list((await conn.execute(query)).scalars())


async def _store(conn: AsyncConnection, send: NewMessage, created_at: datetime) -> int | None:
    bump = (
        update(conversations)
        .where(conversations.c.id == send.conversation_id)
        .values(last_seq=conversations.c.last_seq + 1)
        .returning(conversations.c.last_seq)
    )
    seq: int | None = (await conn.execute(bump)).scalar_one_or_none()
    if seq is not None:
        row = {**send._asdict(), "body_escaped": True, "seq": seq, "created_at": created_at}
        await conn.execute(insert(messages).values(**row))
    return seq


async def _check(conn: AsyncConnection, send: NewMessage) -> Outcome:
    is_member = exists().where(
        and_(members.c.conversation_id == conversations.c.id, members.c.user_id == send.sender_id)
    )
    query = (
        select(
            is_member.label("is_member"),
            messages.c.id,
            messages.c.conversation_id,
            messages.c.body,
            messages.c.body_escaped,
            messages.c.seq,
            messages.c.created_at,
        )
        .select_from(conversations)
        .outerjoin(
            messages,
            and_(
                messages.c.sender_id == send.sender_id,
                messages.c.client_message_id == send.client_message_id,
            ),
        )
        .where(conversations.c.id == send.conversation_id)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return Outcome(found=False, is_member=False, before=None, seq=None, wait_ms=None)
    before = None
    if row.id is not None:
        before = StoredMessage(
            row.id,
            row.conversation_id,
            send.sender_id,
            send.client_message_id,
            row.body,
            row.body_escaped,
            row.seq,
            row.created_at,
        )
    return Outcome(found=True, is_member=bool(row.is_member), before=before, seq=None, wait_ms=None)
