"""The messages service's logic. It imports neither FastAPI nor Socket.IO.

Sending (PROTOCOL §4.2) checks, in this order: payload (done by the wire models),
membership, idempotency, rate limit. The idempotency key is (sender, clientMessageId),
owned by :meth:`MessagesService.send_message` and backed by the ``uq_messages_idempotency``
unique constraint: a repeat returns the stored message, stores nothing and is never
rate limited. The rate limit is taken inside the insert transaction, once the row is
known to be new, so that concurrent retries of one message (which all pass the first
idempotency look-up) are answered as duplicates, never as ``rate_limited``. The batch
path (:meth:`MessagesService.send_batch`) gets the same answers another way: slots first,
handed back for what was not stored.
Every change a room should hear about is published on the bus after commit, in commit
order, without the answer waiting for it (:class:`RoomEventPublisher`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from parley_common.bus import Bus
from parley_common.channels import Router
from parley_common.errors import Forbidden, NotFound, ParleyError, RateLimited
from parley_common.events import RoomEvent
from parley_common.internal_api import InternalSend
from parley_common.presence import OnlineReader
from parley_common.ratelimit import SendRateLimiter
from parley_common.room_publisher import RoomEventDict, RoomEventPublisher
from parley_common.timefmt import format_ts, utcnow_ms
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
from parley_messages.models import read_text
from parley_messages.store import Access, MessageStore, WatermarkKind, WatermarkMove

log = logging.getLogger(__name__)

Answer = dict[str, Any]  # an ack body: {"message", "duplicate"}, wire keys


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
        sync_max_bytes: int = 256 * 1024,
        router: Router | None = None,
    ) -> None:
        self._store = store
        self._room_events = RoomEventPublisher(bus, router)
        self._limiter = limiter
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

    async def send_message(
        self,
        *,
        sender_id: str,
        conversation_id: str,
        client_message_id: str,
        body: str,
        origin_socket_id: str | None = None,
    ) -> SendResult:
        """Store a (sanitized, validated) message once, and announce it after commit."""
        access, stored = await self._store.send_context(
            conversation_id=conversation_id, sender_id=sender_id, client_message_id=client_message_id
        )
        _require_member(access)
        if stored is not None:
            DUPLICATES.inc()
            return SendResult(message=stored, duplicate=True)

        async def admit() -> None:
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

    async def send_batch(self, sends: list[InternalSend]) -> list[Answer | ParleyError]:
        """Many sends, each answered as by :meth:`send_message`, in one round trip to the
        rate limit store and one to the database. Per send, in order: the ack body
        (``{"message", "duplicate"}``, wire dicts) or the refusal.

        The same checks per send and the same answers (membership, idempotency, rate limit),
        but the rate limit is taken first, for every send, and handed back for those that
        turn out not to be stored (duplicates and refusals), so that the checks and the
        inserts can be one statement (:data:`parley_messages.pg_send.SEND_BATCH`). A key
        repeated within the batch is answered as a duplicate of its first occurrence. Should
        a concurrent send take one of the keys meanwhile, nothing is stored, every slot is
        handed back and the batch is redone send by send.
        """
        if not self._store.stores_batches:
            # SQLite serializes writers anyway: one by one, in batch order.
            return [await self._send_answer(s) for s in sends]
        first = await self._send_batch_once(sends)
        if first is None:
            return [await self._send_answer(s) for s in sends]
        results = first.answers
        # A send refused while slots were held by sends of this batch that were not stored
        # after all (handed back since) would have been admitted one by one: one more pass.
        freed = set(first.handed_back)
        again = [
            i
            for i, answer in enumerate(results)
            if isinstance(answer, RateLimited) and sends[i].sender_id in freed
        ]
        counted = set()  # answered by send_message, which counts its own refusals
        if again:
            second = await self._send_batch_once([sends[i] for i in again])
            if second is None:
                redone, counted = [await self._send_answer(sends[i]) for i in again], set(again)
            else:
                redone = second.answers
            for i, answer in zip(again, redone, strict=True):
                results[i] = answer
        RATE_LIMITED.inc(
            sum(1 for i, answer in enumerate(results) if isinstance(answer, RateLimited) and i not in counted)
        )
        return results

    async def _send_batch_once(self, sends: list[InternalSend]) -> _BatchAnswers | None:
        """One pass: None, and nothing stored nor taken, when a concurrent send took one of
        the keys meanwhile."""
        admission = await self._limiter.admit([s.sender_id for s in sends])
        taken = [s.sender_id for s, wait in zip(sends, admission.waits, strict=True) if not wait]
        created_at = self._clock()
        rows = [(new_id(), s.conversation_id, s.sender_id, s.client_message_id, s.body) for s in sends]
        try:
            found = await self._store.send_batch(
                rows, [not wait for wait in admission.waits], created_at=created_at
            )
        except Exception:
            await self._limiter.give_back(taken, admission)
            raise
        if found is None:
            await self._limiter.give_back(taken, admission)
            return None
        answers = _BatchAnswers(format_ts(created_at))
        for send, row, new, wait in zip(sends, found, rows, admission.waits, strict=True):
            answers.add(send, row, message_id=new[0], wait_ms=wait)
        await self._limiter.give_back(answers.handed_back, admission)
        STORED.inc(len(answers.events))
        self._room_events.publish(answers.events)
        return answers

    async def _send_answer(self, send: InternalSend) -> Answer | ParleyError:
        """One send through :meth:`send_message`, answered as the batch path answers."""
        try:
            result = await self.send_message(
                sender_id=send.sender_id,
                conversation_id=send.conversation_id,
                client_message_id=send.client_message_id,
                body=send.body,
                origin_socket_id=send.origin_socket_id,
            )
        except ParleyError as exc:
            return exc
        return result.wire()

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


class _BatchAnswers:
    """A batch's answers and events, built from :data:`SEND_BATCH`'s rows straight into wire
    dicts (a model per message, built and dumped twice, was a fifth of the service's CPU
    under load)."""

    def __init__(self, created_at: str) -> None:
        self._created_at = created_at
        self._first: dict[tuple[str, str], Answer | ParleyError] = {}
        self.answers: list[Answer | ParleyError] = []
        self.events: list[RoomEventDict] = []
        self.handed_back: list[str] = []  # the senders of admitted sends that were not stored

    def add(self, send: InternalSend, row: Mapping[str, Any], *, message_id: str, wait_ms: int) -> None:
        answer = self._answer(send, row, message_id, wait_ms)
        if not wait_ms and (isinstance(answer, ParleyError) or answer["duplicate"]):
            self.handed_back.append(send.sender_id)
        self.answers.append(answer)

    def _answer(
        self, send: InternalSend, row: Mapping[str, Any], message_id: str, wait_ms: int
    ) -> Answer | ParleyError:
        if not row["found"]:
            return NotFound()
        if not row["is_member"]:
            return Forbidden()
        if row["old_id"] is not None:
            DUPLICATES.inc()
            stored = {
                "id": row["old_id"],
                "conversationId": row["old_conversation_id"],
                "senderId": send.sender_id,
                "clientMessageId": send.client_message_id,
                "body": read_text(row["old_body"], row["old_body_escaped"]),
                "seq": row["old_seq"],
                "createdAt": format_ts(row["old_created_at"]),
            }
            return {"message": stored, "duplicate": True}
        key = (send.sender_id, send.client_message_id)
        if row["nth"] != 1:  # repeated within the batch: as its first occurrence was answered
            first = self._first[key]
            if isinstance(first, ParleyError):
                return first
            DUPLICATES.inc()
            return {"message": first["message"], "duplicate": True}
        self._first[key] = answer = self._first_answer(send, row, message_id, wait_ms)
        return answer

    def _first_answer(
        self, send: InternalSend, row: Mapping[str, Any], message_id: str, wait_ms: int
    ) -> Answer | ParleyError:
        if wait_ms:
            return RateLimited(retry_after_ms=wait_ms)
        if row["new_seq"] is None:
            return NotFound()  # the conversation was deleted meanwhile
        message = {
            "id": message_id,
            "conversationId": send.conversation_id,
            "senderId": send.sender_id,
            "clientMessageId": send.client_message_id,
            "body": send.body,
            "seq": row["new_seq"],
            "createdAt": self._created_at,
        }
        self.events.append(
            {
                "conversation_id": send.conversation_id,
                "event": "message:new",
                "data": {"message": message},
                "skip_socket_id": send.origin_socket_id,
            }
        )
        return {"message": message, "duplicate": False}


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
