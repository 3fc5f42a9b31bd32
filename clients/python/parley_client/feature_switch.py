"""Which way each feature goes right now (PROTOCOL §7).

``allowed``: the app's modes capped by the server's config; whether the Socket.IO connection
is kept at all follows it. ``effective``: ``allowed``, except while the socket cannot be opened
and HTTP answers (a proxy that lets no Socket.IO through): then messages and presence are
polled and typing is off, so the app keeps working until a connection succeeds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from parley_client.modes import HTTP_ONLY, Modes, ServerConfig

Listener = Callable[[Modes, Modes], None]  # (effective before, effective now)


class FeatureSwitch:
    def __init__(self, wanted: Modes) -> None:
        self.wanted = wanted
        self.server = ServerConfig()  # until read: the protocol's default, sockets allowed
        self.socket_blocked = False
        self._listeners: list[Listener] = []
        self._changed = asyncio.Event()

    @property
    def allowed(self) -> Modes:
        return self.wanted.capped_by(self.server.features)

    @property
    def effective(self) -> Modes:
        return self.allowed.capped_by(HTTP_ONLY) if self.socket_blocked else self.allowed

    @property
    def poll_interval_s(self) -> float:
        return self.server.poll_interval_s

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def set_server(self, config: ServerConfig) -> None:
        self._update(lambda: setattr(self, "server", config))

    def set_socket_blocked(self, blocked: bool) -> None:
        self._update(lambda: setattr(self, "socket_blocked", blocked))

    async def changed(self) -> None:
        """Return at the next change of ``allowed``, ``effective`` or the poll interval."""
        await self._changed.wait()

    def _update(self, change: Callable[[], None]) -> None:
        before = (self.allowed, self.effective, self.poll_interval_s)
        change()
        if (self.allowed, self.effective, self.poll_interval_s) == before:
            return
        self._changed.set()
        self._changed = asyncio.Event()  # waiters of this change are woken; later ones wait anew
        for listener in list(self._listeners):
            listener(before[1], self.effective)
