"""python-engineio's server with Parley's sockets (:class:`LeanSocket`), one sweep for ping
deadlines that allows for the loop's own lag, and disconnects that never wait for a client.

Upstream's ``disconnect`` waits until the client has collected its CLOSE packet, which a
long-polling client that never polls again never does: each such request hung for good
(1,000 of them: 1,000 tasks and 89 MB, and a SIGTERM that waited out its whole timeout).
Here the CLOSE packet is queued and nothing waits for it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import engineio
from engineio.async_socket import AsyncSocket

from parley_gateway.transport.engine_socket import EMPTY_PACKET_SIZE, LeanSocket
from parley_gateway.transport.light_queue import LightQueue

# Bounds how late a dead link is noticed past PING_INTERVAL + PING_TIMEOUT (2 + 2.5 s by
# default) on a gateway that keeps up; an overloaded one waits its loop lag longer.
_SWEEP_S = 0.5


class LeanEngineServer(engineio.AsyncServer):
    """python-engineio's server whose sockets are :class:`LeanSocket`, and whose sweep for
    clients that stopped answering pings makes no task per socket and allows for its own
    event loop's lag (``lag_s``)."""

    lag_s = 0.0
    # MAX_OUTGOING_BYTES (set by create_server); None: unbounded, as upstream.
    max_outgoing_bytes: int | None = None

    def create_queue(self, *args: Any, **kwargs: Any) -> Any:
        """Each socket's send queue (upstream's is an ``asyncio.Queue``, 2 KB more)."""
        return LightQueue()

    async def disconnect(self, sid: str | None = None) -> None:
        """Close one socket (or all): upstream's, without waiting for the client to collect
        its CLOSE packet (a long-polling client may never poll again)."""
        everyone: dict[str, AsyncSocket] = self.sockets
        closing = [everyone.get(sid)] if sid is not None else list(everyone.values())
        for socket in closing:
            if socket is not None:
                await socket.close(wait=False, reason=self.reason.SERVER_DISCONNECT)
        if sid is None:
            everyone.clear()
        else:
            everyone.pop(sid, None)

    def send_now(self, eio_sid: str, pkt: Any, frame: bytes | None = None) -> bool:
        """Send a packet to one socket without a task (see :meth:`LeanSocket.send_now`)."""
        socket = self.sockets.get(eio_sid)
        return isinstance(socket, LeanSocket) and socket.send_now(pkt, frame)

    async def _service_task(self) -> None:
        # Upstream visits one socket per ``ping_timeout / len(sockets)`` seconds, through a
        # ``wait_for`` (a task) per visit; this sweeps them all every _SWEEP_S instead.
        self.service_task_event = self.create_event()
        period = min(_SWEEP_S, self.ping_timeout)
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                async with asyncio.timeout(period):
                    await self.service_task_event.wait()
                return
            except TimeoutError:
                pass
            # How late this wake-up came is how late the loop runs everything, pongs
            # included: an overloaded gateway gives its clients that much more time rather
            # than dropping healthy ones (which would reconnect and overload it further).
            late_s = max(0.0, loop.time() - started - period)
            self.lag_s = max(late_s, self.lag_s / 2)
            now, loop_now = time.time(), loop.time()
            for socket in list(self.sockets.values()):
                if isinstance(socket, LeanSocket):
                    socket.cut_if_silent(loop_now)
                if socket.closed:
                    self.sockets.pop(socket.sid, None)
                elif not socket.closing and socket.ping_overdue(now):
                    try:
                        await socket.check_ping_timeout()  # closes it, as upstream's sweep does
                    except Exception:
                        self.logger.exception("could not close a socket past its ping timeout")

    async def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "connect":
            # Called by ``_handle_connect`` right after it made the socket, before its first
            # ping or read: the socket's state is all upstream's, only its methods change.
            socket = self.sockets.get(args[0])
            if socket is not None and type(socket) is AsyncSocket:
                socket.__class__ = LeanSocket
                # Upstream queued the OPEN packet (a dict) before: count it as _next_packets will.
                socket._queued_size = socket.queue.qsize() * EMPTY_PACKET_SIZE
        return await super()._trigger_event(event, *args, **kwargs)
