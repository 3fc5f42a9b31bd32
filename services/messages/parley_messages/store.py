"""SQL for the messages service but the send path (:mod:`parley_messages.send_store`): one
method per operation, each its own transaction.

Methods whose name ends in ``_txn`` run several statements in one transaction; the rest
are single statements. Connection-level failures become :class:`Unavailable`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, exists, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from parley_common.wire import Conversation, Member, Message
from parley_messages.models import ConversationRow, MemberRow, MessageRow, read_text, read_title
from parley_messages.outages import outage_as_unavailable
from parley_messages.pg_raw import conversation_with_members

conversations = ConversationRow.__table__  # type: ignore[attr-defined]
members = MemberRow.__table__  # type: ignore[attr-defined]
messages = MessageRow.__table__  # type: ignore[attr-defined]

_MESSAGE_COLUMNS = (
    messages.c.id,
    messages.c.conversation_id,
    messages.c.sender_id,
    messages.c.client_message_id,
    messages.c.body,
    messages.c.body_escaped,
    messages.c.seq,
    messages.c.created_at,
)


WatermarkKind = Literal["delivered", "read"]


@dataclass(frozen=True, slots=True)
class Access:
    """What a caller may do in a conversation, and where it stands."""

    last_seq: int
    is_member: bool


@dataclass(frozen=True, slots=True)
class Watermarks:
    delivered: int
    read: int


@dataclass(frozen=True, slots=True)
class WatermarkMove:
    before: Watermarks
    after: Watermarks


def _message(row: Any) -> Message:
    return Message(
        id=row.id,
        conversation_id=row.conversation_id,
        sender_id=row.sender_id,
        client_message_id=row.client_message_id,
        body=read_text(row.body, row.body_escaped),
        seq=row.seq,
        created_at=row.created_at,
    )


class MessageStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Single statements need no BEGIN/COMMIT round trips around them.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._on_postgres = engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        """A transaction: committed at the end of the block, rolled back on error."""
        async with outage_as_unavailable(), self._engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def _single(self) -> AsyncIterator[AsyncConnection]:
        """A connection in autocommit mode, for one statement."""
        async with outage_as_unavailable(), self._autocommit.connect() as conn:
            yield conn

    async def ping(self) -> None:
        async with self._single() as conn:
            await conn.execute(text("SELECT 1"))

    # ---- conversations ------------------------------------------------------------

    async def create_conversation_txn(
        self,
        *,
        conversation_id: str,
        title: str | None,
        created_by: str,
        member_ids: Sequence[str],
        created_at: datetime,
    ) -> None:
        async with self._begin() as conn:
            await conn.execute(
                conversations.insert().values(
                    id=conversation_id,
                    title=title,
                    title_escaped=True,
                    created_by=created_by,
                    created_at=created_at,
                    last_seq=0,
                )
            )
            await conn.execute(
                members.insert(),
                [{"conversation_id": conversation_id, "user_id": user_id} for user_id in member_ids],
            )

    async def list_conversations(self, *, user_id: str) -> list[Conversation]:
        mine = select(members.c.conversation_id).where(members.c.user_id == user_id)
        async with self._begin() as conn:
            rows = (
                await conn.execute(
                    select(conversations)
                    .where(conversations.c.id.in_(mine))
                    .order_by(conversations.c.created_at.desc(), conversations.c.id)
                )
            ).all()
            member_rows = (
                await conn.execute(
                    select(members.c.conversation_id, members.c.user_id)
                    .where(members.c.conversation_id.in_(mine))
                    .order_by(members.c.user_id)
                )
            ).all()
        by_conversation: dict[str, list[str]] = {}
        for row in member_rows:
            by_conversation.setdefault(row.conversation_id, []).append(row.user_id)
        return [
            Conversation(
                id=row.id,
                title=read_title(row.title, row.title_escaped),
                member_ids=by_conversation.get(row.id, []),
                created_at=row.created_at,
                last_seq=row.last_seq,
            )
            for row in rows
        ]

    async def conversation_rows(self, *, conversation_id: str) -> list[Any]:
        """The conversation joined with its members, one mapping per member (ordered by
        user id; ``user_id`` None for a conversation without members), by one statement;
        empty when there is no such conversation."""
        if self._on_postgres:
            return await conversation_with_members(self._engine, conversation_id)
        query = (
            select(
                conversations.c.id,
                conversations.c.title,
                conversations.c.title_escaped,
                conversations.c.created_at,
                conversations.c.last_seq,
                members.c.user_id,
                members.c.last_delivered_seq,
                members.c.last_read_seq,
            )
            .select_from(conversations.outerjoin(members))
            .where(conversations.c.id == conversation_id)
            .order_by(members.c.user_id)
        )
        async with self._single() as conn:
            return [row._mapping for row in (await conn.execute(query)).all()]

    async def get_conversation(self, *, conversation_id: str) -> tuple[Conversation, list[Member]] | None:
        """The conversation and every member's watermarks (``online`` left False)."""
        rows = await self.conversation_rows(conversation_id=conversation_id)
        if not rows:
            return None
        member_list = [
            Member(
                user_id=row["user_id"],
                last_delivered_seq=row["last_delivered_seq"],
                last_read_seq=row["last_read_seq"],
            )
            for row in rows
            if row["user_id"] is not None
        ]
        first = rows[0]
        conversation = Conversation(
            id=first["id"],
            title=read_title(first["title"], first["title_escaped"]),
            member_ids=[m.user_id for m in member_list],
            created_at=first["created_at"],
            last_seq=first["last_seq"],
        )
        return conversation, member_list

    async def get_access(self, *, conversation_id: str, user_id: str) -> Access | None:
        """None when the conversation does not exist."""
        is_member = exists().where(
            and_(members.c.conversation_id == conversations.c.id, members.c.user_id == user_id)
        )
        query = select(conversations.c.last_seq, is_member.label("is_member")).where(
            conversations.c.id == conversation_id
        )
        async with self._single() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else Access(last_seq=row.last_seq, is_member=bool(row.is_member))

    # ---- messages -------------------------------------------------------------------

    async def list_messages(
        self,
        *,
        conversation_id: str,
        after_seq: int | None,
        since: datetime | None,
        limit: int,
    ) -> list[Message]:
        """Messages in ascending seq; ``after_seq`` wins over ``since``; at most ``limit``."""
        query = select(*_MESSAGE_COLUMNS).where(messages.c.conversation_id == conversation_id)
        if after_seq is not None:
            query = query.where(messages.c.seq > after_seq)
        elif since is not None:
            query = query.where(messages.c.created_at > since)
        async with self._single() as conn:
            rows = (await conn.execute(query.order_by(messages.c.seq).limit(limit))).all()
        return [_message(row) for row in rows]

    # ---- receipts ---------------------------------------------------------------------

    async def move_watermark_txn(
        self, *, conversation_id: str, user_id: str, kind: WatermarkKind, up_to_seq: int
    ) -> WatermarkMove | None:
        """Move a member's watermark forward (never back), clamped to the last seq.

        A read moves the delivered watermark too. None when the user is not a member.
        """
        current = (
            select(members.c.last_delivered_seq, members.c.last_read_seq, conversations.c.last_seq)
            .join(conversations, conversations.c.id == members.c.conversation_id)
            .where(members.c.conversation_id == conversation_id, members.c.user_id == user_id)
            .with_for_update(of=members)
        )
        async with self._begin() as conn:
            row = (await conn.execute(current)).first()
            if row is None:
                return None
            before = Watermarks(delivered=row.last_delivered_seq, read=row.last_read_seq)
            target = min(up_to_seq, row.last_seq)
            after = Watermarks(
                delivered=max(before.delivered, target),
                read=max(before.read, target) if kind == "read" else before.read,
            )
            if after != before:
                await conn.execute(
                    update(members)
                    .where(members.c.conversation_id == conversation_id, members.c.user_id == user_id)
                    .values(last_delivered_seq=after.delivered, last_read_seq=after.read)
                )
        return WatermarkMove(before=before, after=after)
