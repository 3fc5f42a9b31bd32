"""The send path's storage contract: a batch of sends checked, then stored, in one
transaction that the service drives (it takes the rate limit in between, for exactly the
sends that are new). One implementation per backend (:mod:`parley_messages.pg_send` on
PostgreSQL, :mod:`parley_messages.sqlite_send` for the embedded default) and one mapper
from a stored row to the wire (:func:`message_wire`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from parley_common.timefmt import format_ts
from parley_messages.models import read_text


class NewMessage(NamedTuple):
    """A send to store: its id is chosen before it is known whether it will be stored."""

    id: str
    conversation_id: str
    sender_id: str
    client_message_id: str
    body: str  # sanitized and escaped (PROTOCOL §4.2)


class StoredMessage(NamedTuple):
    """A message's row, in the columns' own terms."""

    id: str
    conversation_id: str
    sender_id: str
    client_message_id: str
    body: str
    body_escaped: bool
    seq: int
    created_at: datetime


class Checked(NamedTuple):
    """What the store found for one send."""

    found: bool  # the conversation exists
    is_member: bool  # the sender is one of its members
    before: StoredMessage | None  # stored earlier under its idempotency key: a duplicate


class SendTxn(Protocol):
    checked: list[Checked]  # per send of the batch, in order

    async def store(self, sends: Sequence[NewMessage], *, created_at: datetime) -> list[int | None]:
        """Store these sends (some of the batch's, in batch order): each conversation's seq
        bumped under its row lock, gap-free. Per send, its seq (None: the conversation is
        gone)."""
        ...


class SendStore(Protocol):
    def send_txn(self, sends: Sequence[NewMessage]) -> AbstractAsyncContextManager[SendTxn]:
        """A transaction in which ``sends`` are checked (:attr:`SendTxn.checked`), their
        idempotency keys held until it ends, so that a concurrent send of one of them waits
        and then finds it stored. Committed when the block ends, rolled back on error."""
        ...


# A batch's new messages share one createdAt: formatted once, not once per message.
_format_ts = functools.lru_cache(maxsize=64)(format_ts)


def message_wire(row: StoredMessage) -> dict[str, Any]:
    """The PROTOCOL §4.1 message, as JSON-ready camelCase keys."""
    return {
        "id": row.id,
        "conversationId": row.conversation_id,
        "senderId": row.sender_id,
        "clientMessageId": row.client_message_id,
        "body": read_text(row.body, row.body_escaped),
        "seq": row.seq,
        "createdAt": _format_ts(row.created_at),
    }
