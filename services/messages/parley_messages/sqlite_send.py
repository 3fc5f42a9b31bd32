"""The send store of the embedded default, SQLite through SQLAlchemy. ``BEGIN IMMEDIATE``
takes the database's write lock first, so a transaction holds every key at once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from sqlalchemy import and_, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from parley_messages.models import ConversationRow, MemberRow, MessageRow
from parley_messages.outages import outage_as_unavailable
from parley_messages.send_store import Checked, NewMessage, StoredMessage

conversations = ConversationRow.__table__  # type: ignore[attr-defined]
members = MemberRow.__table__  # type: ignore[attr-defined]
messages = MessageRow.__table__  # type: ignore[attr-defined]


class SqliteSendStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def send_txn(self, sends: Sequence[NewMessage]) -> AsyncIterator[_SqliteSendTxn]:
        async with outage_as_unavailable(), self._engine.begin() as conn:
            yield _SqliteSendTxn(conn, [await _check(conn, send) for send in sends])


class _SqliteSendTxn:
    def __init__(self, conn: AsyncConnection, checked: list[Checked]) -> None:
        self._conn = conn
        self.checked = checked

    async def store(self, sends: Sequence[NewMessage], *, created_at: datetime) -> list[int | None]:
        return [await self._store(send, created_at) for send in sends]

    async def _store(self, send: NewMessage, created_at: datetime) -> int | None:
        bump = (
            update(conversations)
            .where(conversations.c.id == send.conversation_id)
            .values(last_seq=conversations.c.last_seq + 1)
            .returning(conversations.c.last_seq)
        )
        seq: int | None = (await self._conn.execute(bump)).scalar_one_or_none()
        if seq is not None:
            row = {**send._asdict(), "body_escaped": True, "seq": seq, "created_at": created_at}
            await self._conn.execute(insert(messages).values(**row))
        return seq


async def _check(conn: AsyncConnection, send: NewMessage) -> Checked:
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
        return Checked(found=False, is_member=False, before=None)
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
    return Checked(found=True, is_member=bool(row.is_member), before=before)
