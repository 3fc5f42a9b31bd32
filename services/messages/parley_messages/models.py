"""Tables of the messages service (SQLModel). Migrations in ``migrations/`` match these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, UniqueConstraint, false
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from parley_common.sanitize import escape_text


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        # SQLite compares timestamps as text: store them in one zone-free format.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _created_at() -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=False))


def _seq(**kwargs: Any) -> Any:
    return Field(default=0, sa_column=Column(BigInteger(), nullable=False, **kwargs))


def _escaped_flag() -> Any:
    # True for what this release writes; the server default, false, is what the previous
    # release's rows get while it still serves (see migrations/versions/0002_escaped_text.py).
    column: Column[bool] = Column(Boolean(), nullable=False, default=True, server_default=false())
    return Field(default=True, sa_column=column)


def read_text(text: str, escaped: bool) -> str:
    """A stored body or title in the form of PROTOCOL §4.2 (escaped), whichever rule wrote it."""
    return text if escaped else escape_text(text)


def read_title(title: str | None, escaped: bool) -> str | None:
    return None if title is None else read_text(title, escaped)


class ConversationRow(SQLModel, table=True):
    __tablename__ = "conversations"

    id: str = Field(primary_key=True, max_length=64)
    title: str | None = Field(default=None)
    title_escaped: bool = _escaped_flag()
    created_by: str = Field(max_length=200)
    created_at: datetime = _created_at()
    # The seq of the newest message; bumped in the same transaction as the insert.
    last_seq: int = _seq(server_default="0")


class MemberRow(SQLModel, table=True):
    __tablename__ = "conversation_members"
    __table_args__ = (Index("ix_conversation_members_user_id", "user_id"),)

    conversation_id: str = Field(foreign_key="conversations.id", primary_key=True, max_length=64)
    user_id: str = Field(primary_key=True, max_length=200)
    last_delivered_seq: int = _seq(server_default="0")
    last_read_seq: int = _seq(server_default="0")


class MessageRow(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        # The idempotency key (PROTOCOL §4.2): one message per (sender, clientMessageId),
        # across all of the sender's conversations.
        UniqueConstraint("sender_id", "client_message_id", name="uq_messages_idempotency"),
        UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        Index("ix_messages_conversation_created", "conversation_id", "created_at"),
        # The send rate limit counts a sender's newest messages (migrations/versions/0003).
        Index("ix_messages_sender_created", "sender_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=64)
    conversation_id: str = Field(foreign_key="conversations.id", max_length=64)
    sender_id: str = Field(max_length=200)
    client_message_id: str = Field(max_length=128)
    body: str
    body_escaped: bool = _escaped_flag()
    seq: int = Field(sa_column=Column(BigInteger(), nullable=False))
    created_at: datetime = _created_at()
