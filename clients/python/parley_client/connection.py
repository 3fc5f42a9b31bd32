"""The connection: connect with a fresh token each attempt, reconnect with backoff.

python-socketio's own reconnection is off: the SDK runs the loop so that the token
provider is asked on every attempt and the state is observable. A dead link is noticed
by Engine.IO's pings (server defaults: under 5 s).

Transport (PROTOCOL §6): WebSocket first; when it cannot be opened (a proxy that refuses
or swallows the upgrade), HTTP long-polling in the same attempt, with the same token.
A refused token: the provider is asked again at once (the token may have expired on the
way); refused again, the state is ``unauthorized`` with the code, and the provider keeps
being asked at the reconnect backoff until a token is accepted.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, Literal

import socketio

from parley_client.backoff import reconnect_delay
from parley_client.clock import Clock, within
from parley_client.errors import AuthError
from parley_client.models import ConnectionState
from parley_client.sender import NotConnected
from parley_client.tasks import spawn

log = logging.getLogger(__name__)

TokenProvider = Callable[[], Awaitable[str]]
Handler = Callable[[Any], Awaitable[None] | None]
Transport = Literal["auto", "websocket", "polling"]
CONNECT_WAIT_S = 5.0
# The whole attempt, handshake included: python-engineio bounds neither the WebSocket
# handshake nor the wait for its OPEN packet, so a link that drops everything silently
# would hold an attempt (and every queued send) for minutes.
CONNECT_TIMEOUT_S = 10.0
# In "auto", how long the WebSocket gets before long-polling is tried (a proxy may swallow
# the upgrade request instead of refusing it).
WEBSOCKET_TIMEOUT_S = 5.0
# close() sends CLOSE and waits for the transport to end; a long-poll in flight can take until
# the server's next ping to return, so the wait is bounded and the rest dropped.
CLOSE_WAIT_S = 1.0
REFUSALS_BEFORE_UNAUTHORIZED = 2  # the first refused token is followed by a fresh one at once
CALL_LIMIT_S = 60.0  # python-socketio's own ack limit; callers bound the wait themselves
_PLANS: dict[Transport, tuple[str, ...]] = {
    "auto": ("websocket", "polling"),
    "websocket": ("websocket",),
    "polling": ("polling",),
}


class Connection:
    def __init__(
        self,
        url: str,
        *,
        token_provider: TokenProvider,
        clock: Clock,
        device_id: str | None = None,
        transport: Transport = "auto",
        rng: random.Random | None = None,
    ) -> None:
        if transport not in _PLANS:
            raise ValueError(f"transport must be one of {sorted(_PLANS)}, not {transport!r}")
        self._url = url
        self._token_provider = token_provider
        self._clock = clock
        self._device_id = device_id
        self._plan = _PLANS[transport]
        self._rng = rng or random.Random()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.state = ConnectionState.DISCONNECTED
        self.last_error: Exception | None = None
        self.auth_error: AuthError | None = None
        self.transport: str | None = None  # "websocket" or "polling" while connected
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._wake = asyncio.Event()
        self._state_listeners: list[Callable[[ConnectionState], None]] = []
        self.on_connected: list[Callable[[], Awaitable[None]]] = []
        self.on_attempt_failed: list[Callable[[Exception], None]] = []  # not for refused tokens
        self._closing = False
        self._expired = False
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("auth:expired", self._on_auth_expired)

    # ---- observing -----------------------------------------------------------------

    def add_state_listener(self, listener: Callable[[ConnectionState], None]) -> None:
        self._state_listeners.append(listener)

    def _set_state(self, state: ConnectionState) -> None:
        if state == self.state:
            return
        self.state = state
        for listener in list(self._state_listeners):
            try:
                listener(state)
            except Exception:
                log.exception("a connection-state listener failed")

    def on(self, event: str, handler: Handler) -> None:
        self.sio.on(event, handler)

    # ---- Socket (for the sender) ------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def call(self, event: str, payload: dict[str, Any]) -> Any:
        if not self.connected:
            raise NotConnected()
        lost = asyncio.ensure_future(self._lost.wait())
        call = asyncio.ensure_future(self.sio.call(event, payload, timeout=CALL_LIMIT_S))
        try:
            done, _ = await asyncio.wait({call, lost}, return_when=asyncio.FIRST_COMPLETED)
            if call in done:
                try:
                    return call.result()
                except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
                    raise NotConnected() from None
            raise NotConnected()
        finally:
            lost.cancel()
            if not call.done():
                call.cancel()

    async def emit(self, event: str, payload: dict[str, Any]) -> None:
        """Fire and forget (typing); dropped when offline."""
        if self.connected:
            with suppress(socketio.exceptions.BadNamespaceError):
                await self.sio.emit(event, payload)

    # ---- lifecycle -----------------------------------------------------------------------

    def reconnect_now(self) -> None:
        """Skip the wait before the next attempt (an app's "reconnect" button, a new sign-in)."""
        self._wake.set()

    def reopen(self) -> None:
        """Allow :meth:`run` again after :meth:`close` (a feature moved back to the socket)."""
        self._closing = False

    async def run(self) -> None:
        """Connect, stay connected, reconnect with backoff; until :meth:`close`."""
        attempt = refusals = 0
        while not self._closing:
            if self.state != ConnectionState.UNAUTHORIZED:
                self._set_state(ConnectionState.CONNECTING)
            try:
                await self._connect_once()
            except AuthError as exc:
                self.last_error = self.auth_error = exc
                refusals += 1
                log.info("token refused (%s), attempt %d", exc.code, refusals)
                if refusals < REFUSALS_BEFORE_UNAUTHORIZED:
                    continue  # a fresh token at once
                self._set_state(ConnectionState.UNAUTHORIZED)
                await self._rest(reconnect_delay(attempt, self._rng))
                attempt += 1
                continue
            except Exception as exc:
                self.last_error = exc
                log.info("connect attempt %d failed: %r", attempt + 1, exc)
                for hook in list(self.on_attempt_failed):
                    hook(exc)
                if self.state != ConnectionState.UNAUTHORIZED:
                    self._set_state(ConnectionState.DISCONNECTED)
                await self._rest(reconnect_delay(attempt, self._rng))
                attempt += 1
                continue
            attempt = refusals = 0
            await self._stay_connected()
            if not self._closing and not self._expired:
                await self._rest(reconnect_delay(0, self._rng))
                attempt = 1

    async def _stay_connected(self) -> None:
        self.last_error = self.auth_error = None
        self._expired = False
        self._lost.clear()
        self._connected.set()
        self._set_state(ConnectionState.CONNECTED)
        for hook in list(self.on_connected):
            spawn(_guarded(hook))
        await self._lost.wait()
        self._connected.clear()
        self.transport = None
        await self._release_transport()
        self._set_state(ConnectionState.DISCONNECTED)

    async def _rest(self, seconds: float) -> None:
        """Wait ``seconds``, or until :meth:`reconnect_now` or :meth:`close`."""
        self._wake.clear()
        with suppress(TimeoutError):
            await within(self._clock, seconds, self._wake.wait())

    async def _connect_once(self) -> None:
        token = await self._token_provider()
        auth: dict[str, str] = {"token": token}
        if self._device_id:
            auth["deviceId"] = self._device_id
        for n, transport in enumerate(self._plan):
            last = n == len(self._plan) - 1
            try:
                await self._open(auth, transport, CONNECT_TIMEOUT_S if last else WEBSOCKET_TIMEOUT_S)
            except (socketio.exceptions.ConnectionError, TimeoutError) as exc:
                if last:
                    raise
                log.info("%s could not be opened (%r): trying the next transport", transport, exc)
                continue
            self.transport = transport
            return

    async def _open(self, auth: dict[str, str], transport: str, timeout_s: float) -> None:
        errors: list[Any] = []

        async def connect_error(data: Any) -> None:
            errors.append(data)

        self.sio.on("connect_error", connect_error)
        connecting = self.sio.connect(
            self._url, auth=auth, transports=[transport], wait_timeout=CONNECT_WAIT_S
        )
        try:
            await within(self._clock, timeout_s, connecting)
        except TimeoutError:
            await self._close_http()  # drops the hung handshake's connection with the session
            raise
        except socketio.exceptions.ConnectionError:
            refusal = errors[-1] if errors else None
            await self._close_http()
            if isinstance(refusal, dict) and str(refusal.get("message", "")).startswith("auth_"):
                raise AuthError(
                    refusal["message"], str((refusal.get("data") or {}).get("message", ""))
                ) from None
            raise

    async def _on_disconnect(self, reason: Any = None) -> None:
        self._connected.clear()
        self._lost.set()

    async def _on_auth_expired(self, _: Any = None) -> None:
        # The server disconnects next (PROTOCOL §2): reconnect at once, with a fresh token.
        self._expired = True

    async def close(self) -> None:
        self._closing = True
        self._lost.set()
        self._wake.set()
        if self.sio.connected:
            with suppress(TimeoutError):
                await asyncio.wait_for(self.sio.disconnect(), CLOSE_WAIT_S)
        await self._release_transport()
        await self._close_http()
        self._set_state(ConnectionState.DISCONNECTED)

    async def _close_http(self) -> None:
        # After a failed attempt python-engineio keeps its aiohttp session open; close it
        # (it opens a new one for the next attempt).
        http = getattr(self.sio.eio, "http", None)
        if http is not None and not http.closed:
            await http.close()

    async def _release_transport(self) -> None:
        # A link that died without a close (ping timeout) leaves python-engineio's WebSocket
        # open on our side; close it so its connection is given back, not leaked.
        ws = getattr(self.sio.eio, "ws", None)
        if ws is not None and not ws.closed:
            with suppress(Exception):
                await ws.close()


async def _guarded(hook: Callable[[], Awaitable[None]]) -> None:
    try:
        await hook()
    except Exception:
        log.exception("an on-connect step failed")
