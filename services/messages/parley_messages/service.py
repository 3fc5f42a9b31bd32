"""The messages service's logic. It imports neither FastAPI nor Socket.IO.

Sending (PROTOCOL §4.2) checks, in this order: payload (done by the wire models),
membership, idempotency, rate limit. There is one send path, :meth:`MessagesService.send_batch`
(:meth:`~MessagesService.send_message` is a batch of one), one call to the send store
(:class:`parley_messages.send_store.SendStore`) and one transaction. The idempotency key is
(sender, clientMessageId), backed by the ``uq_messages_idempotency`` unique constraint; a
sender's batches are stored one at a time, so a repeat, even one sent concurrently with the
original, returns the stored message, stores nothing and is never rate limited. The rate
limit counts the sender's messages stored in the last second, in the same transaction: only
what is stored ever counts, across every gateway, device and the HTTP route.
Every change a room should hear about is published on the bus after commit, in commit
order, without the answer waiting for it (:class:`RoomEventPublisher`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from parley_common.bus import Bus
from parley_common.channels import Router
from parley_common.errors import Forbidden, NotFound, ParleyError
from parley_common.events import RoomEvent
from parley_common.presence import OnlineReader
from parley_common.room_publisher import RoomEventPublisher
from parley_common.timefmt import utcnow_ms
from parley_common.wire import (
    Conversation,
    ConversationDetail,
    CreateConversation,
    Member,
    Message,
    ReceiptMoved,
    ReceiptResult,
    SyncQuery,
    SyncResult,
)
from parley_messages.metrics import RATE_LIMITED, STORED
from parley_messages.send_answers import Answer, BatchAnswers, Send
from parley_messages.send_store import NewMessage, SendStore
from parley_messages.store import Access, MessageStore, WatermarkKind, WatermarkMove

log = logging.getLogger(__name__)

# PROTOCOL §4.2: at most 10 sends per user in any sliding second, counted from what is stored.
DEFAULT_SENDS_PER_SECOND = 10
RATE_WINDOW_MS = 1000


class NobodyOnline:
    """Without a presence store (a standalone process without Redis): nobody is online."""

    async def online_users(self, conversation_id: str, user_ids: Iterable[str]) -> set[str]:
        return set()


def new_id() -> str:
    return str(uuid.uuid4())


class MessagesService:
    def __init__(
        self,
        *,
        store: MessageStore,
        sends: SendStore,
        bus: Bus,
        sends_per_second: int = DEFAULT_SENDS_PER_SECOND,
        online: OnlineReader | None = None,
        clock: Callable[[], datetime] = utcnow_ms,
        sync_max_bytes: int = 256 * 1024,
        router: Router | None = None,
    ) -> None:
        self._store = store
        self._sends = sends
        self._room_events = RoomEventPublisher(bus, router)
        self._sends_per_second = sends_per_second
        self._online = online or NobodyOnline()
        self._clock = clock
        self._sync_max_bytes = sync_max_bytes

    async def ping(self) -> None:
        await self._store.ping()

    # ---- conversations ------------------------------------------------------------

    async def create_conversation(self, *, user_id: str, request: CreateConversation) -> Conversation:
        member_ids = sorted({user_id, *request.member_ids})
        conversation_id = new_id()
        created_at = self._clock()
        await self._store.create_conversation_txn(
            conversation_id=conversation_id,
            title=request.title,
            created_by=user_id,
            member_ids=member_ids,
            created_at=created_at,
        )
        return Conversation(
            id=conversation_id, title=request.title, member_ids=member_ids, created_at=created_at, last_seq=0
        )

    async def list_conversations(self, *, user_id: str) -> list[Conversation]:
        return await self._store.list_conversations(user_id=user_id)

    async def get_conversation(self, *, user_id: str, conversation_id: str) -> ConversationDetail:
        found = await self._store.get_conversation(conversation_id=conversation_id)
        if found is None:
            raise NotFound()
        conversation, member_list = found
        if user_id not in conversation.member_ids:
            raise Forbidden()
        members = await self._with_online(conversation_id, member_list)
        return ConversationDetail(**conversation.model_dump(), members=members)

    async def members_snapshot(self, *, user_id: str, conversation_id: str) -> dict[str, Any]:
        """For ``conversation:join``: membership checked, members with watermarks, as the
        wire dict of :class:`parley_common.wire.MembersSnapshot`.

        Built from the rows without models: a join into a 500-member room made 1,000 of
        them, most of its CPU, and a reconnect storm is thousands of joins.
        """
        rows = await self._store.conversation_rows(conversation_id=conversation_id)
        if not rows:
            raise NotFound()
        member_rows = [row for row in rows if row["user_id"] is not None]
        user_ids = [row["user_id"] for row in member_rows]
        if user_id not in user_ids:
            raise Forbidden()
        online = await self._online.online_users(conversation_id, user_ids)
        return {
            "conversationId": rows[0]["id"],
            "lastSeq": rows[0]["last_seq"],
            "members": [
                {
                    "userId": row["user_id"],
                    "online": row["user_id"] in online,
                    "lastDeliveredSeq": row["last_delivered_seq"],
                    "lastReadSeq": row["last_read_seq"],
                }
                for row in member_rows
            ],
        }

    async def check_access(self, *, user_id: str, conversation_id: str) -> Access:
        """Raise NotFound / Forbidden unless ``user_id`` is a member."""
        access = await self._store.get_access(conversation_id=conversation_id, user_id=user_id)
        return _require_member(access)

    async def _with_online(self, conversation_id: str, member_list: list[Member]) -> list[Member]:
        online = await self._online.online_users(conversation_id, [m.user_id for m in member_list])
        return [
            Member(
                user_id=m.user_id,
                online=m.user_id in online,
                last_delivered_seq=m.last_delivered_seq,
                last_read_seq=m.last_read_seq,
            )
            for m in member_list
        ]

    # ---- messages -------------------------------------------------------------------

    async def send_message(self, send: Send) -> Answer:
        """One send: a batch of one (:meth:`send_batch`), its refusal raised."""
        [answer] = await self.send_batch([send])
        if isinstance(answer, ParleyError):
            raise answer
        return answer

    async def send_batch(self, sends: Sequence[Send]) -> list[Answer | ParleyError]:
        """Store each send once, and announce it after commit. Per send, in order: the ack
        body (``{"message", "duplicate"}``, wire dicts) or the refusal."""
        if not sends:
            return []
        new = [
            NewMessage(new_id(), s.conversation_id, s.sender_id, s.client_message_id, s.body) for s in sends
        ]
        created_at = self._clock()
        outcomes = await self._sends.send_batch(
            new, now=created_at, limit=self._sends_per_second, window_ms=RATE_WINDOW_MS
        )
        answers = BatchAnswers(sends, new, outcomes, created_at)
        RATE_LIMITED.inc(answers.rate_limited)
        STORED.inc(len(answers.events))
        self._room_events.publish(answers.events)
        return answers.answers()

    async def sync(self, *, user_id: str, conversation_id: str, query: SyncQuery) -> SyncResult:
        access = await self.check_access(user_id=user_id, conversation_id=conversation_id)
        rows = await self._store.list_messages(
            conversation_id=conversation_id,
            after_seq=query.after_seq,
            since=None if query.after_seq is not None else query.since,
            limit=query.limit + 1,
        )
        has_more = len(rows) > query.limit
        rows = rows[: query.limit]
        fitting = _fitting(rows, self._sync_max_bytes)
        if fitting < len(rows):
            rows, has_more = rows[:fitting], True
        # A message committed between the two reads can make the page newer than `access`.
        last_seq = max(access.last_seq, rows[-1].seq if rows else 0)
        return SyncResult(messages=rows, has_more=has_more, last_seq=last_seq)

    # ---- receipts ---------------------------------------------------------------------

    async def mark(
        self, *, user_id: str, conversation_id: str, kind: WatermarkKind, up_to_seq: int
    ) -> ReceiptResult:
        """Move the delivered/read watermark forward; announce each watermark that moved."""
        move = await self._store.move_watermark_txn(
            conversation_id=conversation_id, user_id=user_id, kind=kind, up_to_seq=up_to_seq
        )
        if move is None:
            await self.check_access(user_id=user_id, conversation_id=conversation_id)
            raise NotFound()  # member row vanished between the two reads
        await self._announce_receipts(conversation_id, user_id, move)
        stored = move.after.read if kind == "read" else move.after.delivered
        return ReceiptResult(up_to_seq=stored)

    async def _announce_receipts(self, conversation_id: str, user_id: str, move: WatermarkMove) -> None:
        at = self._clock()
        for event, before, after in (
            ("message:delivered", move.before.delivered, move.after.delivered),
            ("message:read", move.before.read, move.after.read),
        ):
            if after > before:
                moved = ReceiptMoved(conversation_id=conversation_id, user_id=user_id, up_to_seq=after, at=at)
                await self._announce(
                    RoomEvent(conversation_id=conversation_id, event=event, data=moved.wire())
                )

    async def _announce(self, *events: RoomEvent) -> None:
        # Already committed: the bus must neither delay the answer nor turn it into an
        # error. Clients that miss the live event catch up by seq (PROTOCOL §4.7).
        self._room_events.publish([event.model_dump() for event in events])

    async def events_published(self) -> None:
        """Wait until the events of everything answered so far are on the bus (shutdown)."""
        await self._room_events.flush()


def _require_member(access: Access | None) -> Access:
    if access is None:
        raise NotFound()
    if not access.is_member:
        raise Forbidden()
    return access


# What a message adds to a page besides its body: ids, timestamps and field names.
_MESSAGE_OVERHEAD_CHARS = 250


def _fitting(rows: list[Message], max_chars: int) -> int:
    """How many of ``rows`` fit in a page of ``max_chars`` (SYNC_MAX_BYTES): at least one,
    so that a client can always move forward."""
    total = 0
    for count, row in enumerate(rows):
        total += len(row.body) + _MESSAGE_OVERHEAD_CHARS
        if total > max_chars and count > 0:
            return count
    return len(rows)
