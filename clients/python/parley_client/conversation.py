"""One conversation as an app sees it: its messages, members, typing, and what to send.

The public part is what an app calls; the methods with a leading underscore are driven by
:class:`parley_client.ParleyClient` (events, acks, reconnects) and are not for apps.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from parley_client.backoff import ACK_TIMEOUT_S
from parley_client.clock import Clock, within
from parley_client.errors import ParleyError, error_from_ack
from parley_client.models import LocalMessage, Member, MessageStatus
from parley_client.outbox import Outbox, OutboxItem
from parley_client.store import ConversationStore
from parley_client.tasks import spawn
from parley_client.text import encode
from parley_client.typing_indicator import TypingSender, TypingWatcher

if TYPE_CHECKING:
    from parley_client.channel import MessageChannel
    from parley_client.connection import Connection
    from parley_client.feature_switch import FeatureSwitch
    from parley_client.http_api import HttpApi

log = logging.getLogger(__name__)

Listener = Callable[["Conversation"], None]
REQUEST_TIMEOUT_S = 2 * ACK_TIMEOUT_S


class Conversation:
    """Created by :meth:`parley_client.ParleyClient.open`; kept in sync by the client.

    ``id`` and ``user_id`` (this user) are fixed; ``members`` maps user ids to
    :class:`~parley_client.Member` (online flag, watermarks); ``typing.typing_users`` is who
    is typing now (never this user); ``store`` holds the messages (``store.contiguous_seq``:
    the last seq held without a gap).
    """

    def __init__(
        self,
        conversation_id: str,
        *,
        user_id: str,
        connection: Connection,
        channel: MessageChannel,
        http: HttpApi,
        switch: FeatureSwitch,
        outbox: Outbox,
        clock: Clock,
    ) -> None:
        self.id = conversation_id
        self.user_id = user_id
        self.store = ConversationStore(conversation_id, user_id=user_id)
        self.members: dict[str, Member] = {}
        self._connection = connection  # joins, leaves and typing: Socket.IO only
        self._channel = channel  # the message events: Socket.IO or HTTP, as the switch says
        self._http = http
        self._switch = switch
        self._outbox = outbox
        self._clock = clock
        self._listeners: list[Listener] = []
        self._typing = TypingSender(self._emit_typing, clock)
        self.typing = TypingWatcher(user_id, clock, self._changed)
        self._sync_lock = asyncio.Lock()
        self._sync_again = False
        self._delivered_sent = 0
        self._read_sent = 0
        self.joined = False

    # ---- for apps ----------------------------------------------------------------------

    def messages(self) -> list[LocalMessage]:
        """Everything to show, in order; each message's ``status`` is up to date."""
        items = self.store.messages()
        for message in items:
            message.status = self.status_of(message)
        return items

    def on_change(self, listener: Listener) -> None:
        """Call ``listener`` whenever messages, members, typing or statuses change."""
        self._listeners.append(listener)

    async def send(self, text: str) -> LocalMessage:
        """Show ``text`` at once as ``sending`` and queue it; it is sent (and retried) in order.

        ``text`` is plain text as the user typed it; the server escapes it (PROTOCOL §4.2). To
        quote or forward a message, pass its ``text``, never its ``body``.
        """
        message = LocalMessage(
            conversation_id=self.id,
            client_message_id=str(uuid.uuid4()),
            sender_id=self.user_id,
            body=encode(text),  # as the server will store it, until it answers with its own
            status=MessageStatus.SENDING,
        )
        self._typing.stop()
        self.store.add_local(message)
        await self._outbox.put(OutboxItem(self.id, message.client_message_id, text))
        self._changed()
        return message

    async def retry(self, message: LocalMessage) -> bool:
        """Send a ``failed`` message again, once, with its original ``clientMessageId``.

        Returns whether it was queued (False when it is not ``failed``: already sending or sent).
        """
        if message.status != MessageStatus.FAILED:
            return False
        message.status, message.error = MessageStatus.SENDING, None
        # The decoded text, as typed: sending the body would escape it a second time.
        await self._outbox.put(OutboxItem(self.id, message.client_message_id, message.text))
        self._changed()
        return True

    def keystroke(self) -> None:
        """The user typed: ``typing:start`` now (and again at most every 3 s while typing goes
        on), ``typing:stop`` after 2 s without another keystroke or on send. Nothing while
        typing is ``off`` (by the app's choice or the server's config)."""
        if self._switch.effective.typing == "socket":
            self._typing.keystroke()

    def stop_typing(self) -> None:
        """The user stopped typing without sending (cleared the input, left the screen)."""
        self._typing.stop()

    async def mark_read(self, up_to_seq: int | None = None) -> None:
        """The user saw everything up to ``up_to_seq`` (default: everything held). Call it for
        what is on screen while the user is there; a seq already marked is not sent again.
        Over Socket.IO or ``POST …/read``, as messages go."""
        seq = self.store.contiguous_seq if up_to_seq is None else up_to_seq
        if seq > self._read_sent and self._channel.connected:
            await self._request("message:read", {"conversationId": self.id, "upToSeq": seq})
            self._read_sent = max(self._read_sent, seq)

    @property
    def online_users(self) -> set[str]:
        """Members online in this conversation (this user included while connected)."""
        return {m.user_id for m in self.members.values() if m.online}

    def status_of(self, message: LocalMessage) -> MessageStatus:
        """PROTOCOL §4.6, as the sender sees it; others' messages are simply ``sent``."""
        if message.seq is None or message.status in (MessageStatus.SENDING, MessageStatus.FAILED):
            return message.status
        if message.sender_id != self.user_id:
            return MessageStatus.SENT
        others = [m for m in self.members.values() if m.user_id != self.user_id]
        if not others:
            return MessageStatus.SENT
        if all(m.last_read_seq >= message.seq for m in others):
            return MessageStatus.READ
        if all(m.last_delivered_seq >= message.seq for m in others):
            return MessageStatus.DELIVERED
        return MessageStatus.SENT

    # ---- driven by the client ------------------------------------------------------------

    async def _join_and_sync(self) -> None:
        snapshot = await self._socket_request("conversation:join", {"conversationId": self.id})
        self.joined = True
        self._take_members(snapshot.get("members", []), online=True)
        await self.sync()
        if snapshot.get("lastSeq", 0) > self.store.contiguous_seq:
            await self.sync()

    async def _poll(self) -> None:
        """One round of the polling path: the messages after the last seq held when they go
        over HTTP, then the members (watermarks, and ``online`` when presence goes over HTTP)
        from ``GET /api/conversations/{id}``."""
        modes = self._switch.effective
        if modes.messages == "http":
            await self.sync()
        if modes.polls:
            detail = await self._http.conversation(self.id)
            self._take_members(detail.get("members", []), online=self._switch.effective.presence == "http")
            self._changed()

    def _take_members(self, members: list[dict[str, Any]], *, online: bool) -> None:
        """Members from a snapshot: watermarks only move forward; ``online`` taken if asked."""
        for wire in members:
            fresh = Member.from_wire(wire)
            member = self.members.setdefault(fresh.user_id, Member(fresh.user_id))
            member.last_delivered_seq = max(member.last_delivered_seq, fresh.last_delivered_seq)
            member.last_read_seq = max(member.last_read_seq, fresh.last_read_seq)
            if online:
                member.online = fresh.online
        if (me := self.members.get(self.user_id)) is not None:
            self._read_sent = max(self._read_sent, me.last_read_seq)

    async def sync(self) -> None:
        """Fetch everything after the last seq held (coalesces concurrent requests)."""
        if self._sync_lock.locked():
            self._sync_again = True
            return
        async with self._sync_lock:
            while True:
                self._sync_again = False
                while True:
                    page = await self._request(
                        "messages:sync",
                        {"conversationId": self.id, "afterSeq": self.store.contiguous_seq, "limit": 500},
                    )
                    for wire in page["messages"]:
                        self.store.merge(wire)
                    if not page["hasMore"] or not page["messages"]:
                        break
                if not self._sync_again:
                    break
        self._changed()
        await self._acknowledge_delivery()

    def _message_new(self, wire: dict[str, Any]) -> None:
        before = self.store.contiguous_seq
        self.store.merge(wire)
        self._changed()
        if wire["seq"] > before + 1:
            spawn(self._guarded(self.sync()))  # a gap: fetch what was skipped
        else:
            spawn(self._guarded(self._acknowledge_delivery()))

    def _sent(self, item: OutboxItem, outcome: dict[str, Any] | ParleyError) -> None:
        if isinstance(outcome, ParleyError):
            message = self.store.pending(item.client_message_id)
            if message is not None:
                message.status, message.error = MessageStatus.FAILED, outcome
        else:
            self.store.confirm(item.client_message_id, outcome["message"])
        self._changed()

    def _presence(self, user_id: str, online: bool) -> None:
        self.members.setdefault(user_id, Member(user_id)).online = online
        self._changed()

    def _receipt(self, kind: str, user_id: str, up_to_seq: int) -> None:
        member = self.members.setdefault(user_id, Member(user_id))
        if kind == "read":
            member.last_read_seq = max(member.last_read_seq, up_to_seq)
        member.last_delivered_seq = max(member.last_delivered_seq, up_to_seq)
        self._changed()

    def _disconnected(self) -> None:
        """The socket went away: joins and typing with it, and presence when it comes by socket."""
        self.joined = False
        self.typing.clear()
        if self._switch.effective.presence == "socket":
            for member in self.members.values():
                member.online = False
        self._changed()

    # ---- internals -------------------------------------------------------------------

    async def _acknowledge_delivery(self) -> None:
        seq = self.store.contiguous_seq
        if seq > self._delivered_sent and self._channel.connected:
            self._delivered_sent = seq
            await self._request("message:delivered", {"conversationId": self.id, "upToSeq": seq})

    async def _request(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A message event (sync, receipts), on the path in force."""
        return _ok(await within(self._clock, REQUEST_TIMEOUT_S, self._channel.call(event, payload)))

    async def _socket_request(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Joins and leaves: rooms exist on the socket only."""
        return _ok(await within(self._clock, REQUEST_TIMEOUT_S, self._connection.call(event, payload)))

    async def _emit_typing(self, event: str) -> None:
        # A stop goes out even once typing is off, so that nobody is left shown as typing.
        if event == "typing:stop" or self._switch.effective.typing == "socket":
            await self._connection.emit(event, {"conversationId": self.id})

    async def _guarded(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception as exc:
            log.info("conversation %s: %r (retried at the next sync)", self.id, exc)

    def _changed(self) -> None:
        for listener in list(self._listeners):
            try:
                listener(self)
            except Exception:
                log.exception("a conversation listener failed")


def _ok(ack: Any) -> dict[str, Any]:
    if not (isinstance(ack, dict) and ack.get("ok") is True):
        raise error_from_ack(ack)
    return ack
