"""Every client → server event of PROTOCOL §4, handled in one place.

Each handler validates its payload into a pydantic model (``message:send`` reads a
well-formed one without: :mod:`parley_gateway.sio.send_payload`), makes one call (usually to the
messages service, which checks membership and owns persistence), and returns the ack
body; :meth:`ChatNamespace.trigger_event` wraps it in the ack envelope of §3. Events that
reach a room after a commit (``message:new``, receipts) are not emitted here: the
messages service publishes them on the bus and :mod:`parley_gateway.fanout` delivers them.
Typing is relayed here, on the conversation's bus channel like every room event
(coalesced: :mod:`parley_gateway.typing_relay`). A socket's rooms are entered on the
:class:`RoomFeed` too, which subscribes this gateway to their channels before the join or
the connection is answered. Joins and leaves are reported to the
presence service, which announces who is online. Events first take a token of the user's
limit for their kind (:data:`LIMITED_EVENTS`, :mod:`parley_common.event_limits`);
connections over ``MAX_CONNECTIONS_PER_USER`` on this gateway are refused
``too_many_connections``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from prometheus_client import Counter

from parley_common.auth import AuthError, TokenVerifier
from parley_common.errors import InternalError, InvalidPayload, ParleyError, RateLimited, Unavailable
from parley_common.event_limits import EventKind, EventLimiter
from parley_common.events import RoomEvent
from parley_common.observability import new_request_id, request_id
from parley_common.room_publisher import RoomEventPublisher
from parley_common.wire import ConversationRef, Receipt, SyncRequest, parse_payload
from parley_gateway.drain import Drain
from parley_gateway.expiry import TokenExpiry
from parley_gateway.fanout import RoomFeed
from parley_gateway.messages_client import Answer, MessagesClient
from parley_gateway.metrics import CONNECTED, EVENTS, REFUSED, SEND_ACK
from parley_gateway.presence_reporter import PresenceReporter
from parley_gateway.rooms import conversation_room, user_room
from parley_gateway.send_batcher import SendBatcher
from parley_gateway.sio.gate import TOO_MANY_CONNECTIONS
from parley_gateway.sio.handshake import authenticate
from parley_gateway.sio.send_payload import read_send
from parley_gateway.sio.sessions import Sessions, SocketState
from parley_gateway.transport.local_emit import emit_locally
from parley_gateway.typing_relay import TypingRelay

log = logging.getLogger(__name__)

Handler = Callable[[SocketState, Any], Awaitable[Answer]]

# The limit each event draws on. Not limited here: message:send (the messages service's send
# limit) and typing:stop (relayed only after a relayed start, so a flood of them reaches
# nobody, and a stop refused would leave the others' indicator up).
LIMITED_EVENTS = {
    "messages:sync": EventKind.SYNC,
    "conversation:join": EventKind.ROOM,
    "conversation:leave": EventKind.ROOM,
    "typing:start": EventKind.TYPING,
    "message:delivered": EventKind.RECEIPT,
    "message:read": EventKind.RECEIPT,
}


# EVENTS' children by (event, outcome): ``labels`` takes a lock and builds its key each time.
# Bounded: the events are the handlers' names and "unknown", the outcomes "ok" and error codes.
_EVENT_COUNTERS: dict[tuple[str, str], Counter] = {}


def _events_counter(event: str, outcome: str) -> Counter:
    counter = _EVENT_COUNTERS.get((event, outcome))
    if counter is None:
        counter = _EVENT_COUNTERS[event, outcome] = EVENTS.labels(event, outcome)
    return counter


class ChatNamespace(socketio.AsyncNamespace):
    def __init__(
        self,
        *,
        verifier: TokenVerifier,
        messages: MessagesClient,
        expiry: TokenExpiry,
        drain: Drain,
        presence: PresenceReporter,
        limiter: EventLimiter,
        typing: TypingRelay,
        rooms: RoomFeed,
        relays: RoomEventPublisher,
        max_connections_per_user: int,
        sessions: Sessions | None = None,
    ) -> None:
        super().__init__("/")
        self._rooms = rooms
        self._relays = relays
        self._verifier = verifier
        self._limiter = limiter
        self._typing = typing
        self._max_connections_per_user = max_connections_per_user
        self._messages = messages
        self._sends = SendBatcher(messages)
        self._expiry = expiry
        self._drain = drain
        self._presence = presence
        self.sessions = sessions or Sessions()
        self._handlers: dict[str, Handler] = {
            "message:send": self.on_message_send,
            "conversation:join": self.on_conversation_join,
            "conversation:leave": self.on_conversation_leave,
            "typing:start": self.on_typing_start,
            "typing:stop": self.on_typing_stop,
            "message:delivered": self.on_message_delivered,
            "message:read": self.on_message_read,
            "messages:sync": self.on_messages_sync,
        }

    # ---- dispatch ----------------------------------------------------------------------

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            return await self.on_connect(*args)
        if event == "disconnect":
            await self.on_disconnect(args[0])
            return None
        sid, payload = args[0], (args[1] if len(args) > 1 else None)
        if not isinstance(event, str):  # a JSON event name may be anything, a list included
            return InvalidPayload("event names are strings").to_ack()
        return await self._answer(event, sid, payload)

    async def _answer(self, event: str, sid: str, payload: Any) -> dict[str, Any]:
        """Run one event's handler, build its ack envelope (PROTOCOL §3), count it."""
        started = time.perf_counter()
        token = request_id.set(new_request_id())  # follows the event into the messages service
        try:
            ack = await self._run(event, sid, payload)
        finally:
            request_id.reset(token)
        outcome = "ok" if ack["ok"] else ack["error"]["code"]
        _events_counter(event if event in self._handlers else "unknown", outcome).inc()
        if event == "message:send":
            SEND_ACK.observe(time.perf_counter() - started)
        return ack

    async def _run(self, event: str, sid: str, payload: Any) -> dict[str, Any]:
        handler = self._handlers.get(event)
        state = self.sessions.get(sid)
        if handler is None:
            return InvalidPayload(f"unknown event {event[:100]!r}").to_ack()
        if state is None:
            return Unavailable("this connection is closing").to_ack()
        if self._drain.draining:
            return Unavailable("this gateway is shutting down; reconnect and retry").to_ack()
        kind = LIMITED_EVENTS.get(event)
        if kind is not None:
            wait_ms = await self._limiter.take(state.user_id, kind)
            if wait_ms:
                return RateLimited(f"too many {event} events", retry_after_ms=wait_ms).to_ack()
        with self._drain.in_flight():
            try:
                result = await handler(state, payload)
            except ParleyError as exc:
                return exc.to_ack()
            except Exception:
                log.exception("%s from user %s failed", event, state.user_id)
                return InternalError().to_ack()
        return {"ok": True, **result}

    # ---- connection --------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        try:
            handshake = authenticate(self._verifier, environ, auth)
        except AuthError as exc:
            REFUSED.labels(exc.code.value).inc()
            raise socketio.exceptions.ConnectionRefusedError(exc.code.value, exc.to_data()) from None
        principal = handshake.principal
        if self.sessions.count_of(principal.user_id) >= self._max_connections_per_user:
            REFUSED.labels(TOO_MANY_CONNECTIONS).inc()
            message = (
                f"this user already has {self._max_connections_per_user} connections to this server "
                "(MAX_CONNECTIONS_PER_USER); close some, or retry later"
            )
            data = {"code": TOO_MANY_CONNECTIONS, "message": message}
            raise socketio.exceptions.ConnectionRefusedError(TOO_MANY_CONNECTIONS, data)
        CONNECTED.inc()
        state = SocketState(
            sid=sid, user_id=principal.user_id, device_id=handshake.device_id, expires_at=principal.expires_at
        )
        self.sessions.add(state)
        try:
            await self._rooms.enter(user_room(principal.user_id))
        except Unavailable as exc:
            self.sessions.pop(sid)
            CONNECTED.dec()
            REFUSED.labels(exc.code.value).inc()
            raise socketio.exceptions.ConnectionRefusedError(exc.code.value, exc.to_error()) from None
        await self.enter_room(sid, user_room(principal.user_id))
        state.expiry = self._expiry.schedule(principal.expires_at, lambda: self._expire(state))

    async def _expire(self, state: SocketState) -> None:
        if not self.sessions.is_current(state):
            return
        emit_locally(self.server, "auth:expired", {}, room=state.sid)
        # A server DISCONNECT: the client must not reconnect with the same token.
        await self.disconnect(state.sid)

    async def on_disconnect(self, sid: str) -> None:
        state = self.sessions.pop(sid)
        if state is None:
            return
        CONNECTED.dec()
        if state.expiry is not None:
            state.expiry.cancel()
        for conversation_id in state.joined:
            self._presence.left(socket=sid, user=state.user_id, conversation=conversation_id)
        for conversation_id in list(state.typing_in):
            await self._relay_typing(state, conversation_id, "typing:stop")
        for conversation_id in state.joined:
            await self._rooms.leave(conversation_room(conversation_id))
        await self._rooms.leave(user_room(state.user_id))

    # ---- messages ----------------------------------------------------------------------

    async def on_message_send(self, state: SocketState, payload: Any) -> Answer:
        conversation_id, client_message_id, body = read_send(payload)
        result = await self._sends.send(
            {
                "userId": state.user_id,
                "conversationId": conversation_id,
                "clientMessageId": client_message_id,
                "body": body,
                "originSocketId": state.sid,
            }
        )
        state.member_of.add(conversation_id)
        if self.sessions.is_current(state):
            ack = {"clientMessageId": client_message_id, **result}
            emit_locally(self.server, "message:ack", ack, room=state.sid)
        return result

    async def on_messages_sync(self, state: SocketState, payload: Any) -> Answer:
        request = parse_payload(SyncRequest, payload)
        query = request.wire()
        del query["conversationId"]
        return await self._messages.sync(request.conversation_id, {"userId": state.user_id, **query})

    # ---- rooms -------------------------------------------------------------------------

    async def on_conversation_join(self, state: SocketState, payload: Any) -> Answer:
        conversation_id = parse_payload(ConversationRef, payload).conversation_id
        room = conversation_room(conversation_id)
        entering = conversation_id not in state.joined
        if entering:
            # Subscribed before the snapshot is read: every event after its lastSeq is heard.
            await self._rooms.enter(room)
        try:
            snapshot = await self._messages.join(conversation_id, state.user_id)
        except BaseException:
            if entering:
                await self._rooms.leave(room)
            raise
        state.member_of.add(conversation_id)
        if entering:
            if self.sessions.is_current(state) and conversation_id not in state.joined:
                state.joined.add(conversation_id)
                await self.enter_room(state.sid, room)
                self._presence.joined(socket=state.sid, user=state.user_id, conversation=conversation_id)
            else:  # disconnected meanwhile, or a concurrent join of this socket came first
                await self._rooms.leave(room)
        for member in snapshot.get("members", ()):
            if member.get("userId") == state.user_id:
                member["online"] = True  # the joiner counts as online in its own snapshot (§4.3)
        return snapshot

    async def on_conversation_leave(self, state: SocketState, payload: Any) -> Answer:
        conversation_id = parse_payload(ConversationRef, payload).conversation_id
        await self._require_member(state, conversation_id)
        if conversation_id in state.typing_in:
            await self._relay_typing(state, conversation_id, "typing:stop")
        if conversation_id in state.joined:
            state.joined.discard(conversation_id)
            self._presence.left(socket=state.sid, user=state.user_id, conversation=conversation_id)
            await self.leave_room(state.sid, conversation_room(conversation_id))
            await self._rooms.leave(conversation_room(conversation_id))
        return {}

    # ---- typing ------------------------------------------------------------------------

    async def on_typing_start(self, state: SocketState, payload: Any) -> Answer:
        conversation_id = parse_payload(ConversationRef, payload).conversation_id
        await self._require_member(state, conversation_id)
        await self._relay_typing(state, conversation_id, "typing:start")
        return {}

    async def on_typing_stop(self, state: SocketState, payload: Any) -> Answer:
        conversation_id = parse_payload(ConversationRef, payload).conversation_id
        await self._require_member(state, conversation_id)
        await self._relay_typing(state, conversation_id, "typing:stop")
        return {}

    async def _relay_typing(self, state: SocketState, conversation_id: str, event: str) -> None:
        if event == "typing:start":
            state.typing_in.add(conversation_id)
            relayed = self._typing.start(state.user_id, conversation_id)
        else:
            state.typing_in.discard(conversation_id)
            relayed = self._typing.stop(state.user_id, conversation_id)
        if not relayed:
            return
        data = {"conversationId": conversation_id, "userId": state.user_id}
        relay = RoomEvent(conversation_id=conversation_id, event=event, data=data, skip_socket_id=state.sid)
        self._relays.publish([relay.model_dump()])

    # ---- receipts ----------------------------------------------------------------------

    async def on_message_delivered(self, state: SocketState, payload: Any) -> Answer:
        return await self._mark(state, payload, "delivered")

    async def on_message_read(self, state: SocketState, payload: Any) -> Answer:
        return await self._mark(state, payload, "read")

    async def _mark(self, state: SocketState, payload: Any, kind: str) -> Answer:
        # The messages service moves the watermark and announces the move on the bus.
        receipt = parse_payload(Receipt, payload)
        body = {"userId": state.user_id, "upToSeq": receipt.up_to_seq}
        return await self._messages.mark(receipt.conversation_id, kind, body)

    # ---- membership --------------------------------------------------------------------

    async def _require_member(self, state: SocketState, conversation_id: str) -> None:
        """``not_found`` / ``forbidden`` unless the user is a member (asked once per socket)."""
        if conversation_id in state.member_of or conversation_id in state.joined:
            return
        await self._messages.access(conversation_id, state.user_id)
        state.member_of.add(conversation_id)
