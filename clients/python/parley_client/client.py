"""The client: one connection, the outbox and its sender, and the followed conversations.

After every (re)connect each open conversation is joined again and synced after the last
seq it holds, and then every ``POSITION_CHECK_S`` (a lost last message shows up even if
nothing newer comes). Live events are routed to their conversation.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from parley_client.backoff import POSITION_CHECK_S
from parley_client.clock import Clock, SystemClock
from parley_client.connection import Connection, Transport
from parley_client.conversation import Conversation
from parley_client.errors import AuthError, ParleyError
from parley_client.models import ConnectionState, LocalMessage, MessageStatus
from parley_client.outbox import Outbox, OutboxItem, SqliteOutboxStorage
from parley_client.sender import Sender
from parley_client.text import encode

log = logging.getLogger(__name__)

TokenProvider = Callable[[], Awaitable[str]]


class ParleyClient:
    """A Parley user's connection. Use ``async with ParleyClient(...) as client:``.

    ``token_provider`` is awaited before every connection attempt and must return a
    valid JWT (tokens expire; hand out a fresh one). ``outbox_path`` keeps unsent
    messages in a SQLite file so that a restart of the app loses nothing. ``transport``:
    ``"auto"`` (WebSocket, else HTTP long-polling), ``"websocket"`` or ``"polling"``.
    ``clock`` and ``rng`` are for tests (:class:`parley_client.clock.FakeClock`).
    """

    def __init__(
        self,
        url: str,
        *,
        token_provider: TokenProvider,
        device_id: str | None = None,
        outbox_path: str | Path | None = None,
        transport: Transport = "auto",
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._token_provider = token_provider
        self._connection = Connection(
            url,
            token_provider=token_provider,
            clock=self._clock,
            device_id=device_id,
            transport=transport,
            rng=rng,
        )
        self._outbox = Outbox(SqliteOutboxStorage(outbox_path) if outbox_path else None)
        self.user_id = ""  # the token's ``sub``, known once started
        self.conversations: dict[str, Conversation] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._rejoins: set[asyncio.Task[None]] = set()  # joins tried again after a refusal
        self._state_queues: list[asyncio.Queue[ConnectionState]] = []
        self._unauthorized = asyncio.Event()
        self._route_events()
        self._connection.on_connected.append(self._after_connect)
        self._connection.add_state_listener(self._state_changed)

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the outbox, then connect (in the background) and keep connected."""
        self.user_id = _subject(await self._token_provider())
        loaded = await self._outbox.load()
        sender = Sender(self._outbox, self._connection, self._clock, self._sent)
        self._tasks = [
            asyncio.create_task(self._connection.run(), name="parley-connection"),
            asyncio.create_task(sender.run(), name="parley-sender"),
            asyncio.create_task(self._check_positions(), name="parley-position-check"),
        ]
        for item in loaded:
            await self._restore(item)

    async def close(self) -> None:
        """Disconnect and stop. Unsent messages stay in the outbox file for the next start."""
        for conversation in self.conversations.values():
            conversation.stop_typing()
        await self._connection.close()
        tasks = [*self._tasks, *self._rejoins]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
        await self._outbox.close()

    async def __aenter__(self) -> ParleyClient:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # ---- state ---------------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        """``connecting``, ``connected``, ``disconnected`` or ``unauthorized`` (see :attr:`auth_error`)."""
        return self._connection.state

    @property
    def auth_error(self) -> AuthError | None:
        """Why the token was refused (``.code``: ``auth_missing``, ``auth_invalid``,
        ``auth_expired``) while the state is ``unauthorized``; None once connected."""
        return self._connection.auth_error

    @property
    def last_error(self) -> Exception | None:
        """Why the last connection attempt failed; None once connected."""
        return self._connection.last_error

    @property
    def transport(self) -> str | None:
        """``"websocket"`` or ``"polling"`` while connected, else None."""
        return self._connection.transport

    @property
    def queued(self) -> int:
        """Messages not yet acknowledged by the server, all conversations together."""
        return len(self._outbox)

    def on_state_change(self, listener: Callable[[ConnectionState], None]) -> None:
        """Call ``listener`` with each new state (connecting, connected, disconnected, unauthorized)."""
        self._connection.add_state_listener(listener)

    async def states(self) -> AsyncIterator[ConnectionState]:
        """Every state change from now on, as an async iterator."""
        queue: asyncio.Queue[ConnectionState] = asyncio.Queue()
        self._state_queues.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._state_queues.remove(queue)

    async def wait_connected(self) -> None:
        """Return once connected; raise :class:`AuthError` (with its code) if the state
        becomes ``unauthorized`` first, so that a refused token never waits forever."""
        connected = asyncio.ensure_future(self._connection.wait_connected())
        refused = asyncio.ensure_future(self._unauthorized.wait())
        try:
            await asyncio.wait({connected, refused}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            connected.cancel()
            refused.cancel()
        if not self._connection.connected:
            raise self.auth_error or AuthError("auth_invalid")

    def reconnect_now(self) -> None:
        """Try to connect now instead of after the backoff (e.g. the user signed in again)."""
        self._connection.reconnect_now()

    # ---- conversations ----------------------------------------------------------------------

    async def open(self, conversation_id: str) -> Conversation:
        """Follow a conversation: join it (now if connected, and after every reconnect) and sync it."""
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            conversation = self._conversation(conversation_id)
            if self._connection.connected:
                await conversation._join_and_sync()
        return conversation

    async def leave(self, conversation_id: str) -> None:
        """Stop following a conversation: ``typing:stop`` if needed, ``conversation:leave``,
        and no more rejoining or syncing it. Messages already queued for it are still sent."""
        conversation = self.conversations.pop(conversation_id, None)
        if conversation is None:
            return
        conversation.stop_typing()
        conversation._disconnected()
        if self._connection.connected:
            await conversation._request("conversation:leave", {"conversationId": conversation_id})

    def _conversation(self, conversation_id: str) -> Conversation:
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            conversation = Conversation(
                conversation_id,
                user_id=self.user_id,
                connection=self._connection,
                outbox=self._outbox,
                clock=self._clock,
            )
            self.conversations[conversation_id] = conversation
        return conversation

    # ---- internals -----------------------------------------------------------------------

    async def _restore(self, item: OutboxItem) -> None:
        """A message left unsent by a previous run: show it as sending again."""
        conversation = self._conversation(item.conversation_id)
        conversation.store.add_local(
            LocalMessage(
                conversation_id=item.conversation_id,
                client_message_id=item.client_message_id,
                sender_id=self.user_id,
                body=encode(item.body),
                status=MessageStatus.SENDING,
            )
        )

    async def _after_connect(self) -> None:
        for conversation in list(self.conversations.values()):
            await self._rejoin(conversation)

    async def _rejoin(self, conversation: Conversation) -> None:
        try:
            await conversation._join_and_sync()
        except ParleyError as exc:
            if not exc.retryable:
                log.warning("could not rejoin %s: %s", conversation.id, exc)
                return
            # Over the join limit (a reconnect rejoins every conversation at once) or a backend
            # down: try again after the wait the server asked for, not only at the next reconnect.
            log.info("rejoining %s: %s; retrying", conversation.id, exc)
            retry = asyncio.create_task(self._rejoin_later(conversation, exc.retry_after_ms or 1000))
            self._rejoins.add(retry)
            retry.add_done_callback(self._rejoins.discard)
        except Exception as exc:
            log.info("rejoining %s failed (%r); the next reconnect retries", conversation.id, exc)

    async def _rejoin_later(self, conversation: Conversation, wait_ms: int) -> None:
        await self._clock.sleep(wait_ms / 1000)
        if self._connection.connected and not conversation.joined and self.conversations.get(conversation.id):
            await self._rejoin(conversation)

    async def _check_positions(self) -> None:
        while True:
            await self._clock.sleep(POSITION_CHECK_S)
            if not self._connection.connected:
                continue
            for conversation in list(self.conversations.values()):
                try:
                    await conversation.sync()
                except Exception as exc:
                    log.info("position check of %s failed: %r", conversation.id, exc)

    def _sent(self, item: OutboxItem, outcome: dict[str, Any] | ParleyError) -> None:
        conversation = self.conversations.get(item.conversation_id)
        if conversation is not None:  # unless it was left
            conversation._sent(item, outcome)

    def _state_changed(self, state: ConnectionState) -> None:
        if state == ConnectionState.DISCONNECTED:
            for conversation in self.conversations.values():
                conversation._disconnected()
        if state == ConnectionState.UNAUTHORIZED:
            self._unauthorized.set()
        else:
            self._unauthorized.clear()
        for queue in self._state_queues:
            queue.put_nowait(state)

    def _route_events(self) -> None:
        on = self._connection.on
        on("message:new", self._on_message_new)
        on("typing:start", self._on_typing_start)
        on("typing:stop", self._on_typing_stop)
        on("user:online", self._on_user_online)
        on("user:offline", self._on_user_offline)
        on("message:delivered", self._on_delivered)
        on("message:read", self._on_read)

    def _about(self, data: Any) -> Conversation | None:
        if not isinstance(data, dict):
            return None
        return self.conversations.get(str(data.get("conversationId") or ""))

    async def _on_message_new(self, data: Any) -> None:
        message = data.get("message") if isinstance(data, dict) else None
        if (conversation := self._about(message)) is not None and message is not None:
            conversation._message_new(message)

    async def _on_typing_start(self, data: Any) -> None:
        if (conversation := self._about(data)) is not None:
            conversation.typing.started(data["userId"])

    async def _on_typing_stop(self, data: Any) -> None:
        if (conversation := self._about(data)) is not None:
            conversation.typing.stopped(data["userId"])

    async def _on_user_online(self, data: Any) -> None:
        if (conversation := self._about(data)) is not None:
            conversation._presence(data["userId"], True)

    async def _on_user_offline(self, data: Any) -> None:
        if (conversation := self._about(data)) is not None:
            conversation._presence(data["userId"], False)

    async def _on_delivered(self, data: Any) -> None:
        if (conversation := self._about(data)) is not None:
            conversation._receipt("delivered", data["userId"], int(data["upToSeq"]))

    async def _on_read(self, data: Any) -> None:
        if (conversation := self._about(data)) is not None:
            conversation._receipt("read", data["userId"], int(data["upToSeq"]))


def _subject(token: str) -> str:
    """The user id (``sub``) of a JWT, read without verifying it: the server verifies."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims["sub"])
    except (IndexError, ValueError, KeyError) as exc:
        raise ValueError("the token provider returned something that is not a JWT with `sub`") from exc
