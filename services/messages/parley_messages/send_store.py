"""The send path's storage contract: a batch of sends checked, counted against the rate
limit and stored, in one call and one transaction (one round trip on PostgreSQL). One
implementation per backend (:mod:`parley_messages.pg_send` on PostgreSQL,
:mod:`parley_messages.sqlite_send` for the embedded default) and one mapper from a stored row
to the wire (:func:`message_wire`).

The rate limit (PROTOCOL §4.2) is counted from what is stored: a sender may have at most
``limit`` messages created within the sliding window. Duplicates and refusals are never
stored, so they never count, and each sender's batches are taken one at a time, so the count
is exact across every process that shares the database.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
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


class Outcome(NamedTuple):
    """What became of one send."""

    found: bool  # the conversation exists
    is_member: bool  # the sender is one of its members
    before: StoredMessage | None  # stored earlier under its idempotency key: a duplicate
    seq: int | None  # stored now, with this seq
    wait_ms: int | None  # new, but over the rate limit: the milliseconds until a slot frees


class SendStore(Protocol):
    async def send_batch(
        self, sends: Sequence[NewMessage], *, now: datetime, limit: int, window_ms: int
    ) -> list[Outcome]:
        """Per send, in order, its outcome. Stored (each conversation's seq bumped under its
        row lock, gap-free, createdAt ``now``): the first send of each key that is new, by a
        member, and within its sender's ``limit`` messages per ``window_ms`` (counting the
        ones stored before it). A later send of a key is neither stored nor refused: the
        caller answers it as the first one. Committed before it returns."""
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
