"""The client: one connection, the outbox and its sender, and the followed conversations.

After every (re)connect each open conversation is joined again and synced after the last
seq it holds, and then every ``POSITION_CHECK_S`` (a lost last message shows up even if
nothing newer comes). Live events are routed to their conversation.

Each feature goes over Socket.IO or the HTTP API (PROTOCOL §7, :mod:`parley_client.modes`):
the server's ``GET /api/client-config`` is read before connecting, after every reconnect and
every ``config_refresh_s`` (at most 5 minutes), and caps what the app asked for. The outbox,
the store and the statuses are the same whichever way a message goes, so a switch in the
middle of a session loses and doubles nothing: a send in flight is retried with its
``clientMessageId`` on the new path, and the store dedupes by id and clientMessageId.
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
from typing import Any, TypeVar

from parley_client.backoff import POSITION_CHECK_S
from parley_client.channel import MessageChannel
from parley_client.clock import Clock, SystemClock
from parley_client.connection import Connection, Transport
from parley_client.conversation import Conversation
from parley_client.errors import AuthError, NotFound, ParleyError
from parley_client.feature_switch import FeatureSwitch
from parley_client.http_api import HttpApi, Unreachable
from parley_client.http_link import HttpLink
from parley_client.models import ConnectionState, LocalMessage, MessageStatus
from parley_client.modes import Modes, ServerConfig
from parley_client.outbox import Outbox, OutboxItem, SqliteOutboxStorage
from parley_client.poller import Poller
from parley_client.sender import NotConnected, Sender
from parley_client.tasks import spawn
from parley_client.text import encode

log = logging.getLogger(__name__)

TokenProvider = Callable[[], Awaitable[str]]
T = TypeVar("T")
CONFIG_REFRESH_S = 300.0  # PROTOCOL §7: the client config is read again at least this often


class ParleyClient:
    """A Parley user's connection. Use ``async with ParleyClient(...) as client:``.

    ``token_provider`` is awaited before every connection attempt and must return a
    valid JWT (tokens expire; hand out a fresh one). ``outbox_path`` keeps unsent
    messages in a SQLite file so that a restart of the app loses nothing. ``transport``:
    ``"auto"`` (WebSocket, else HTTP long-polling), ``"websocket"`` or ``"polling"``.
    ``modes`` chooses per feature between Socket.IO and HTTP polling (:class:`Modes`; default:
    Socket.IO for all three); the server's client config caps it, see :attr:`modes`.
    ``config_refresh_s`` is how often that config is read again besides every (re)connect
    (at most 300). ``clock`` and ``rng`` are for tests (:class:`parley_client.clock.FakeClock`).
    """

    def __init__(
        self,
        url: str,
        *,
        token_provider: TokenProvider,
        device_id: str | None = None,
        outbox_path: str | Path | None = None,
        transport: Transport = "auto",
        modes: Modes | None = None,
        config_refresh_s: float = CONFIG_REFRESH_S,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < config_refresh_s <= CONFIG_REFRESH_S:
            raise ValueError(f"config_refresh_s must be in (0, {CONFIG_REFRESH_S:g}]: {config_refresh_s!r}")
        self._clock = clock or SystemClock()
        self._token_provider = token_provider
        self._config_refresh_s = config_refresh_s
        self._switch = FeatureSwitch(modes or Modes())
        self._link = HttpLink(self._clock, rng)
        self._http_refusal: AuthError | None = None  # the HTTP API's, while it refuses the token
        self._http = HttpApi(
            url, token_provider=token_provider, on_reachable=self._link.report, on_refused=self._http_refused
        )
        self._connection = Connection(
            url,
            token_provider=token_provider,
            clock=self._clock,
            device_id=device_id,
            transport=transport,
            rng=rng,
        )
        self._channel = MessageChannel(self._connection, self._http, self._link, self._switch)
        self._outbox = Outbox(SqliteOutboxStorage(outbox_path) if outbox_path else None)
        self.user_id = ""  # the token's ``sub``, known once started
        self.conversations: dict[str, Conversation] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._rejoins: set[asyncio.Task[None]] = set()  # joins tried again after a refusal
        self._state_listeners: list[Callable[[ConnectionState], None]] = []
        self._modes_listeners: list[Callable[[Modes], None]] = []
        self._state_queues: list[asyncio.Queue[ConnectionState]] = []
        self._published_state = ConnectionState.DISCONNECTED
        self._up = asyncio.Event()  # the state is ``connected``
        self._unauthorized = asyncio.Event()
        self._socket_task: asyncio.Task[None] | None = None
        self._socket_lock = asyncio.Lock()
        self._closed = False
        self._reconnecting = False  # _after_connect rejoins every conversation itself
        self.poller = Poller(self._switch, self._link, lambda: list(self.conversations.values()), self._clock)
        self._route_events()
        self._connection.on_connected.append(self._after_connect)
        self._connection.on_attempt_failed.append(self._socket_attempt_failed)
        self._connection.add_state_listener(self._state_changed)
        self._link.on_change(lambda _: self._publish_state())
        self._switch.on_change(self._modes_changed)

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the outbox, read the server's client config, then connect (in the background)
        and keep connected, or poll, as the modes say."""
        self.user_id = _subject(await self._token_provider())
        loaded = await self._outbox.load()
        await self._read_config()
        sender = Sender(self._outbox, self._channel, self._clock, self._sent)
        self._tasks = [
            asyncio.create_task(sender.run(), name="parley-sender"),
            asyncio.create_task(self._check_positions(), name="parley-position-check"),
            asyncio.create_task(self._refresh_config(), name="parley-config"),
            asyncio.create_task(self.poller.run(), name="parley-poller"),
        ]
        await self._apply_socket()
        self._publish_state()
        for item in loaded:
            await self._restore(item)

    async def close(self) -> None:
        """Disconnect and stop. Unsent messages stay in the outbox file for the next start."""
        self._closed = True
        for conversation in self.conversations.values():
            conversation.stop_typing()
        await self._apply_socket()
        await self._connection.close()
        tasks = [*self._tasks, *self._rejoins]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
        await self._http.aclose()
        await self._outbox.close()

    async def __aenter__(self) -> ParleyClient:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # ---- state ---------------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        """``connecting``, ``connected``, ``disconnected`` or ``unauthorized`` (see :attr:`auth_error`):
        the socket's while it carries a feature; over HTTP alone, ``connected`` while the
        HTTP API answers and ``disconnected`` while it does not."""
        if self._switch.effective.uses_socket:
            return self._connection.state
        if self._http_refusal is not None:
            return ConnectionState.UNAUTHORIZED
        return ConnectionState.CONNECTED if self._link.reachable else ConnectionState.DISCONNECTED

    @property
    def modes(self) -> Modes:
        """How each feature goes now: the app's ``modes`` capped by the server's config, and
        everything over HTTP while a socket cannot be opened but the HTTP API answers."""
        return self._switch.effective

    @property
    def server_config(self) -> ServerConfig:
        """The server's client config as last read (the protocol's default until then)."""
        return self._switch.server

    @property
    def auth_error(self) -> AuthError | None:
        """Why the token was refused (``.code``: ``auth_missing``, ``auth_invalid``,
        ``auth_expired``) while the state is ``unauthorized``; None once connected."""
        if self._switch.effective.uses_socket:
            return self._connection.auth_error
        return self._http_refusal

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

    def on_modes_change(self, listener: Callable[[Modes], None]) -> None:
        """Call ``listener`` with the new :attr:`modes` whenever a feature changes path (the
        server's config changed, or the socket became blocked or usable again)."""
        self._modes_listeners.append(listener)

    def on_state_change(self, listener: Callable[[ConnectionState], None]) -> None:
        """Call ``listener`` with each new state (connecting, connected, disconnected, unauthorized)."""
        self._state_listeners.append(listener)

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
        connected = asyncio.ensure_future(self._up.wait())
        refused = asyncio.ensure_future(self._unauthorized.wait())
        try:
            await asyncio.wait({connected, refused}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            connected.cancel()
            refused.cancel()
        if self.state != ConnectionState.CONNECTED:
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
            if self._switch.effective.polls:
                with suppress(NotConnected, Unreachable):  # offline: the poller catches up
                    await conversation._poll()
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
            await conversation._socket_request("conversation:leave", {"conversationId": conversation_id})

    def _conversation(self, conversation_id: str) -> Conversation:
        conversation = self.conversations.get(conversation_id)
        if conversation is None:
            conversation = Conversation(
                conversation_id,
                user_id=self.user_id,
                connection=self._connection,
                channel=self._channel,
                http=self._http,
                switch=self._switch,
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
        self._reconnecting = True
        try:
            self._switch.set_socket_blocked(False)
            for conversation in list(self.conversations.values()):
                if not conversation.joined:  # one opened since the connect is joined already
                    await self._rejoin(conversation)
        finally:
            self._reconnecting = False
        # PROTOCOL §7: after every reconnect; after the rejoins, which it must not delay (a
        # change of modes it brings is applied to the joined conversations as any other).
        await self._read_config()

    # ---- modes (PROTOCOL §7) ---------------------------------------------------------------

    async def _read_config(self) -> bool:
        """Read ``GET /api/client-config``; True if it was read. A server without it (404: an
        older one, or a gateway without the /api proxy) allows sockets, as the protocol's
        default; any other failure keeps what was known."""
        try:
            config = ServerConfig.from_wire(await self._http.client_config())
        except NotFound:
            self._switch.set_server(ServerConfig())
            return False
        except (ParleyError, Unreachable) as exc:
            log.info("client config not read: %r", exc)
            return False
        self._switch.set_server(config)
        return True

    async def _refresh_config(self) -> None:
        while True:
            await self._clock.sleep(self._config_refresh_s)
            await self._read_config()

    def _socket_attempt_failed(self, error: Exception) -> None:
        spawn(self._check_socket_blocked())

    async def _check_socket_blocked(self) -> None:
        # The socket could not be opened: if the HTTP API answers, the socket alone is blocked
        # (a proxy), so go on over HTTP until a connection succeeds; if not, this is offline,
        # and sends wait for the connection as ever.
        if await self._read_config() and not self._connection.connected:
            self._switch.set_socket_blocked(True)

    def _modes_changed(self, before: Modes, after: Modes) -> None:
        log.info("modes: %s", after)
        spawn(self._apply_socket())
        for conversation in self.conversations.values():
            if after.typing == "off":
                conversation.stop_typing()
                conversation.typing.clear()
            if not self._connection.connected or self._reconnecting:
                continue
            rejoin = not conversation.joined or (before.presence == "http" and after.presence == "socket")
            if after.uses_socket and rejoin:
                spawn(self._rejoin(conversation))  # joined (for typing, presence) and synced
            elif before.messages == "http" and after.messages == "socket":
                # Live events were not taken while messages went over HTTP: catch up first.
                spawn(conversation._guarded(conversation.sync()))
        self._publish_state()
        _tell(self._modes_listeners, after, "a modes listener")

    async def _apply_socket(self) -> None:
        """Run the connection while any feature goes over it (and the client is open); stop it
        when none does."""
        async with self._socket_lock:
            wanted = self._switch.allowed.uses_socket and not self._closed
            if wanted and self._socket_task is None:
                self._connection.reopen()
                self._socket_task = asyncio.create_task(self._connection.run(), name="parley-connection")
            elif not wanted and self._socket_task is not None:
                task, self._socket_task = self._socket_task, None
                await self._connection.close()
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

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
            if not self._connection.connected or self._switch.effective.messages != "socket":
                continue  # the poller reads what goes over HTTP
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
        self._publish_state()

    def _http_refused(self, refusal: AuthError | None) -> None:
        if (refusal is None) != (self._http_refusal is None):
            self._http_refusal = refusal
            self._publish_state()

    def _publish_state(self) -> None:
        state = self.state
        if state == self._published_state:
            return
        self._published_state = state
        for event, on in (
            (self._up, ConnectionState.CONNECTED),
            (self._unauthorized, ConnectionState.UNAUTHORIZED),
        ):
            if state == on:
                event.set()
            else:
                event.clear()
        _tell(self._state_listeners, state, "a connection-state listener")
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

    def _over_socket(self, feature: str) -> bool:
        # Events of a feature that goes over HTTP (or is off) are not taken: its store is fed
        # by polling alone, and a switch back to the socket syncs first.
        return str(getattr(self._switch.effective, feature)) == "socket"

    async def _on_message_new(self, data: Any) -> None:
        if not self._over_socket("messages"):
            return
        message = data.get("message") if isinstance(data, dict) else None
        if (conversation := self._about(message)) is not None and message is not None:
            conversation._message_new(message)

    async def _on_typing_start(self, data: Any) -> None:
        if self._over_socket("typing") and (conversation := self._about(data)) is not None:
            conversation.typing.started(data["userId"])

    async def _on_typing_stop(self, data: Any) -> None:
        if (conversation := self._about(data)) is not None:
            conversation.typing.stopped(data["userId"])

    async def _on_user_online(self, data: Any) -> None:
        if self._over_socket("presence") and (conversation := self._about(data)) is not None:
            conversation._presence(data["userId"], True)

    async def _on_user_offline(self, data: Any) -> None:
        if self._over_socket("presence") and (conversation := self._about(data)) is not None:
            conversation._presence(data["userId"], False)

    async def _on_delivered(self, data: Any) -> None:
        if self._over_socket("messages") and (conversation := self._about(data)) is not None:
            conversation._receipt("delivered", data["userId"], int(data["upToSeq"]))

    async def _on_read(self, data: Any) -> None:
        if self._over_socket("messages") and (conversation := self._about(data)) is not None:
            conversation._receipt("read", data["userId"], int(data["upToSeq"]))


def _tell(listeners: list[Callable[[T], None]], value: T, what: str) -> None:
    """Call each app listener; one that raises is logged, and the others still hear."""
    for listener in list(listeners):
        try:
            listener(value)
        except Exception:
            log.exception("%s failed", what)


def _subject(token: str) -> str:
    """The user id (``sub``) of a JWT, read without verifying it: the server verifies."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims["sub"])
    except (IndexError, ValueError, KeyError) as exc:
        raise ValueError("the token provider returned something that is not a JWT with `sub`") from exc
