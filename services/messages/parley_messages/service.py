"""The messages service's logic. It imports neither FastAPI nor Socket.IO.

Sending (PROTOCOL §4.2) checks, in this order: payload (done by the wire models),
membership, idempotency, rate limit. The idempotency key is (sender, clientMessageId),
owned by :meth:`MessagesService.send_message` and backed by the ``uq_messages_idempotency``
unique constraint: a repeat returns the stored message, stores nothing and is never
rate limited. The rate limit is taken inside the insert transaction, once the row is
known to be new, so that concurrent retries of one message (which all pass the first
idempotency look-up) are answered as duplicates, never as ``rate_limited``.
Every change a room should hear about is published on the bus after commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from parley_common.bus import Bus
from parley_common.errors import Forbidden, InternalError, NotFound, ParleyError, RateLimited
from parley_common.events import ROOM_EVENTS, RoomEvent, room_event_batch
from parley_common.internal_api import InternalSend
from parley_common.presence import OnlineReader
from parley_common.ratelimit import SendRateLimiter
from parley_common.timefmt import utcnow_ms
from parley_common.wire import (
    Conversation,
    ConversationDetail,
    CreateConversation,
    Member,
    Message,
    ReceiptMoved,
    ReceiptResult,
    SendResult,
    SyncQuery,
    SyncResult,
)
from parley_messages.metrics import DUPLICATES, RATE_LIMITED, STORED
from parley_messages.store import Access, MessageStore, WatermarkKind, WatermarkMove

log = logging.getLogger(__name__)


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
        bus: Bus,
        limiter: SendRateLimiter,
        online: OnlineReader | None = None,
        clock: Callable[[], datetime] = utcnow_ms,
    ) -> None:
        self._store = store
        self._bus = bus
        self._limiter = limiter
        self._online = online or NobodyOnline()
        self._clock = clock

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

    async def send_message(
        self,
        *,
        sender_id: str,
        conversation_id: str,
        client_message_id: str,
        body: str,
        origin_socket_id: str | None = None,
        admitted: bool = False,
    ) -> SendResult:
        """Store a (sanitized, validated) message once, and announce it after commit.

        ``admitted``: the rate limit was already taken for this send (a batch being redone).
        """
        access, stored = await self._store.send_context(
            conversation_id=conversation_id, sender_id=sender_id, client_message_id=client_message_id
        )
        _require_member(access)
        if stored is not None:
            DUPLICATES.inc()
            return SendResult(message=stored, duplicate=True)

        async def admit() -> None:
            if admitted:
                return
            retry_after_ms = await self._limiter.acquire(sender_id)
            if retry_after_ms:
                RATE_LIMITED.inc()
                raise RateLimited(retry_after_ms=retry_after_ms)

        message = await self._store.insert_message_txn(
            message_id=new_id(),
            conversation_id=conversation_id,
            sender_id=sender_id,
            client_message_id=client_message_id,
            body=body,
            now=self._clock,
            before_commit=admit,
        )
        if message is None:
            # Lost a race with a concurrent send of the same key: answer with the winner.
            stored = await self._store.find_sent_message(
                sender_id=sender_id, client_message_id=client_message_id
            )
            if stored is None:
                raise NotFound()
            DUPLICATES.inc()
            return SendResult(message=stored, duplicate=True)
        STORED.inc()
        await self._announce(
            RoomEvent(
                conversation_id=conversation_id,
                event="message:new",
                data={"message": message.wire()},
                skip_socket_id=origin_socket_id,
            )
        )
        return SendResult(message=message, duplicate=False)

    async def send_batch(self, sends: list[InternalSend]) -> list[SendResult | ParleyError]:
        """Many sends with the checks of :meth:`send_message`, in one transaction.

        The same order of checks per send (membership, idempotency, rate limit), with the
        look-ups for all of them in one query and every new message stored in one
        transaction (one seq bump per conversation). A key repeated within the batch is
        answered as a duplicate of its first occurrence. Should a concurrent send take one
        of the keys between the look-up and the insert, nothing is stored and the batch is
        redone send by send, without taking the rate limit again (in that race, a send found
        to be a duplicate has counted toward the limit once).
        """
        if not self._store.stores_batches:
            # SQLite serializes writers anyway: one by one, in batch order.
            return [await self._send_or_error(s) for s in sends]
        keys = [(s.conversation_id, s.sender_id, s.client_message_id) for s in sends]
        contexts = await self._store.batch_context(keys)
        results: list[SendResult | ParleyError | None] = [None] * len(sends)
        first_of: dict[tuple[str, str], int] = {}
        fresh: list[int] = []
        for index, (send, (access, stored)) in enumerate(zip(sends, contexts, strict=True)):
            results[index] = _checked(access, stored)
            if results[index] is None and (send.sender_id, send.client_message_id) not in first_of:
                first_of[(send.sender_id, send.client_message_id)] = index
                fresh.append(index)
        admitted = await self._admit([sends[i] for i in fresh])
        for index, wait_ms in zip(fresh, admitted, strict=True):
            if wait_ms:
                results[index] = RateLimited(retry_after_ms=wait_ms)
        to_store = [i for i, wait_ms in zip(fresh, admitted, strict=True) if not wait_ms]
        await self._store_fresh(sends, to_store, results)
        for index, send in enumerate(sends):
            if results[index] is None:  # a repeat within the batch
                results[index] = _as_duplicate(results[first_of[(send.sender_id, send.client_message_id)]])
        return [r for r in results if r is not None]

    async def _admit(self, sends: list[InternalSend]) -> list[int]:
        waits = await self._limiter.acquire_many([s.sender_id for s in sends])
        RATE_LIMITED.inc(sum(1 for wait in waits if wait))
        return waits

    async def _store_fresh(
        self, sends: list[InternalSend], indexes: list[int], results: list[SendResult | ParleyError | None]
    ) -> None:
        if not indexes:
            return
        rows = [
            (
                new_id(),
                sends[i].conversation_id,
                sends[i].sender_id,
                sends[i].client_message_id,
                sends[i].body,
            )
            for i in indexes
        ]
        stored = await self._store.insert_batch_txn(rows, created_at=self._clock())
        if stored is None:
            for i in indexes:
                results[i] = await self._send_or_error(sends[i], admitted=True)
            return
        STORED.inc(len(stored))
        events = []
        for i, message in zip(indexes, stored, strict=True):
            results[i] = SendResult(message=message, duplicate=False)
            events.append(
                RoomEvent(
                    conversation_id=message.conversation_id,
                    event="message:new",
                    data={"message": message.wire()},
                    skip_socket_id=sends[i].origin_socket_id,
                )
            )
        await self._announce(*events)

    async def _send_or_error(self, send: InternalSend, *, admitted: bool = False) -> SendResult | ParleyError:
        try:
            return await self.send_message(
                sender_id=send.sender_id,
                conversation_id=send.conversation_id,
                client_message_id=send.client_message_id,
                body=send.body,
                origin_socket_id=send.origin_socket_id,
                admitted=admitted,
            )
        except ParleyError as exc:
            return exc

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
        # Already committed: a bus failure must not turn a stored message into an error.
        # Clients that miss the live event catch up by seq (PROTOCOL §4.7).
        payload = events[0].model_dump() if len(events) == 1 else room_event_batch(events)
        try:
            await self._bus.publish(ROOM_EVENTS, payload)
        except Exception:
            log.exception("could not publish %d room event(s)", len(events))


def _checked(access: Access | None, stored: Message | None) -> SendResult | ParleyError | None:
    """The answer a send gets before any insert, or None when it is new."""
    try:
        _require_member(access)
    except ParleyError as exc:
        return exc
    if stored is not None:
        DUPLICATES.inc()
        return SendResult(message=stored, duplicate=True)
    return None


def _as_duplicate(first: SendResult | ParleyError | None) -> SendResult | ParleyError:
    if isinstance(first, SendResult):
        DUPLICATES.inc()
        return SendResult(message=first.message, duplicate=True)
    return first if first is not None else InternalError()


def _require_member(access: Access | None) -> Access:
    if access is None:
        raise NotFound()
    if not access.is_member:
        raise Forbidden()
    return access
