"""Engine.IO sockets without an asyncio task per packet, and with a bound on their output.

python-engineio (pinned) drives each WebSocket with a fresh task for every frame it reads
(``ensure_future`` + ``wait_for``), another for every wait on its send queue, and one more
for every ping. On Python 3.11 a task costs a WeakSet insertion and a scheduling round;
measured with py-spy on 2,000 idle sockets (2 s pings), task creation alone was a fifth
of the gateway's CPU and a ping round trip cost ~0.45 ms of CPU: 10,000 idle sockets
would have needed more than the whole core.

:class:`LeanSocket` keeps the upstream behaviour (same packets, same deadlines, same close
reasons) with ``asyncio.timeout`` blocks instead of tasks, and pings scheduled as plain
loop timers (``engine_server.LeanEngineServer`` makes every new socket one).

It also bounds its output, which upstream does not: what waits for the client to read it
(its send queue, plus what its WebSocket transport buffers) is capped at
``MAX_OUTGOING_BYTES``; a packet that would go over cuts the connection off, since a reader
that far behind would only fall further behind. Upstream queues without limit, and frames
written directly skipped the transport's flow control altogether (a member who never read
grew the gateway by 235 MB in 25 s).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from engineio import exceptions, packet
from engineio.async_socket import AsyncSocket

from parley_gateway.metrics import SLOW_READERS_CUT
from parley_gateway.transport.ws_protocol import DIRECT_WRITER, DirectWriter, text_frame

log = logging.getLogger(__name__)

# Size of a packet without text (a PING, say) in the output count.
EMPTY_PACKET_SIZE = 16
# A PING packet as a WebSocket frame (the same for every socket).
_PING_FRAME = text_frame(packet.Packet(packet.PING).encode())
# Sockets being closed by a task of their own (referenced until done).
_closing: set[asyncio.Task[None]] = set()


def packet_size(pkt: Any) -> int:
    """What ``pkt`` adds to a client's unread output: its text's length (characters: exact
    for ASCII, the common case, and cheap; a multi-byte text counts less than its bytes)."""
    data = pkt.data
    return len(data) if isinstance(data, str | bytes) else EMPTY_PACKET_SIZE


class LeanSocket(AsyncSocket):
    # Upstream's instance attributes, untyped there.
    last_ping: float | None
    connected: bool
    upgraded: bool
    upgrading: bool
    # The WebSocket read loop's task while it reads, and when it last heard from the client.
    _reader: asyncio.Task[Any] | None = None
    _heard_at: float = 0.0
    _silenced: bool = False
    # This socket's WebSocket connection (see ws_protocol), and whether the writer task is
    # sending packets it took from the queue.
    _writer: DirectWriter | None = None
    _offered_writer: DirectWriter | None = None  # until the upgrade is done
    _writing: bool = False
    # The packets' sizes (:func:`packet_size`) in the send queue, and whether the client was
    # cut off for being too far behind.
    _queued_size: int = 0
    _cut_off: bool = False
    _closing_soon: bool = False  # a close is scheduled (see _close_soon)

    async def poll(self) -> list[Any]:
        """Wait for packets to send to the client (upstream ``poll``, without a task)."""
        try:
            async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
                return await self._next_packets()
        except (TimeoutError, asyncio.CancelledError):
            raise exceptions.QueueEmpty() from None

    async def _next_packets(self) -> list[Any]:
        """Everything queued, once there is something; [] when the socket is closing."""
        first = await self.queue.get()
        self.queue.task_done()
        if first is None:
            return []
        packets = [first]
        while not self.queue.empty():
            pkt = self.queue.get_nowait()
            self.queue.task_done()
            if pkt is None:
                self.queue.put_nowait(None)
                break
            packets.append(pkt)
        self._queued_size -= sum(packet_size(pkt) for pkt in packets)
        return packets

    def _enqueue(self, pkt: Any) -> None:
        self._queued_size += packet_size(pkt)
        self.queue.put_nowait(pkt)

    def send_now(self, pkt: Any, frame: bytes | None = None) -> bool:
        """``send`` without awaiting; False if the socket is done with.

        ``frame``: ``pkt`` as a WebSocket frame (:func:`text_frame`), written at once when
        nothing is waiting to be sent before it; else ``pkt`` is queued for the writer.
        """
        if self.closed or self.closing:
            return False
        if self.ping_overdue(time.time()):
            # Closed now, as upstream's send closes it. Only dropping the packet, for the sweep
            # to close the socket later, lost it for good when the pong came first: the socket
            # lived on and its client never knew to sync.
            self._close_soon(abort=False, reason=self.server.reason.PING_TIMEOUT)
            return False
        if not self._room_for(pkt):
            return False
        writer = self._writer
        if (
            frame is not None
            and writer is not None
            and not self._writing
            and not self.upgrading
            and self.queue.empty()
            and writer.write_frame(frame)
        ):
            return True
        self._enqueue(pkt)
        return True

    async def send(self, pkt: Any) -> None:
        """Upstream's ``send`` (python-socketio's acks and emits come this way), counted."""
        if await self.check_ping_timeout() and self._room_for(pkt):
            self._enqueue(pkt)

    def _room_for(self, pkt: Any) -> bool:
        """False, and the connection cut off, when ``pkt`` would take what the client has yet
        to read over the server's ``max_outgoing_bytes``."""
        if self._cut_off:
            return False
        limit: int | None = getattr(self.server, "max_outgoing_bytes", None)
        if limit is None:
            return True
        unread = self._queued_size + packet_size(pkt) + (self._writer.buffered() if self._writer else 0)
        if unread <= limit:
            return True
        self._cut_off = True
        SLOW_READERS_CUT.inc()
        log.info("cutting off a client too far behind (%d unread, limit %d)", unread, limit)
        if self._writer is not None:
            self._writer.abort()  # frees what its transport holds, and ends its read loop
        self._close_soon(abort=True, reason=self.server.reason.TRANSPORT_ERROR)
        return False

    def _close_soon(self, *, abort: bool, reason: Any) -> None:
        """Close from code that cannot await (once: later calls find it closing)."""
        if self._closing_soon:
            return
        self._closing_soon = True
        task = asyncio.ensure_future(self.close(wait=False, abort=abort, reason=reason))
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    def ping_overdue(self, now: float) -> bool:
        """No pong for the last ping within PING_TIMEOUT, plus the server's loop lag."""
        grace_s = self.server.ping_timeout + getattr(self.server, "lag_s", 0.0)
        return self.last_ping is not None and self.last_ping > 0 and now - self.last_ping > grace_s

    async def check_ping_timeout(self) -> bool:
        """Upstream's check (close a socket past its ping deadline), with :meth:`ping_overdue`."""
        if self.closed:
            raise exceptions.SocketIsClosedError()
        if self.ping_overdue(time.time()):
            # abort=False writes a CLOSE packet, as upstream does for a half-open socket.
            await self.close(wait=False, abort=False, reason=self.server.reason.PING_TIMEOUT)
            return False
        return True

    def cut_if_silent(self, now: float) -> None:
        """End the read loop of a WebSocket that sent nothing for PING_INTERVAL + PING_TIMEOUT
        (plus the server's loop lag).

        Upstream bounds every read with its own deadline (a timer per frame); the server's
        sweep calls this instead (``now``: the loop's clock).
        """
        silence_s = self.server.ping_interval + self.server.ping_timeout + getattr(self.server, "lag_s", 0.0)
        if self._reader is not None and now - self._heard_at > silence_s:
            self._stop_reading()

    async def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        await super().close(wait=wait, abort=abort, reason=reason)
        # Upstream keeps reading from a closed socket until its client hangs up, which one
        # that ignores the CLOSE packet never does; the writer flushes what is queued
        # (the CLOSE packet included), then closes the connection.
        self._stop_reading()

    def _stop_reading(self) -> None:
        if self._reader is None or self._silenced:
            return
        self._silenced = True
        if self._reader is not asyncio.current_task():
            self._reader.cancel()  # else the read loop sees _silenced after this frame

    def schedule_ping(self) -> None:
        # Upstream starts a task that sleeps, then pings: a timer does the same for less.
        if self.last_ping:
            self.last_ping = None
            asyncio.get_running_loop().call_later(self.server.ping_interval, self._ping_due)

    def _ping_due(self) -> None:
        if not self.closing and not self.closed:
            self.last_ping = time.time()
            # What ``send`` does (its ping-timeout check cannot fire with a ping just sent),
            # written straight to the WebSocket when nothing waits before it.
            self.send_now(packet.Packet(packet.PING), _PING_FRAME)

    async def _upgrade_websocket(self, environ: dict[str, Any]) -> Any:
        scope = environ.get("asgi.scope") or {}
        self._offered_writer = scope.get("extensions", {}).get(DIRECT_WRITER)
        # The request body reader: a WebSocket has no body, and the reader's class, which
        # engineio's translate_request makes anew for each request (~2.4 KB), is freed
        # with it rather than kept for the connection's life by python-socketio's environ.
        environ.pop("wsgi.input", None)
        return await super()._upgrade_websocket(environ)

    async def _websocket_handler(self, ws: Any) -> None:
        """Engine.IO over a WebSocket: upstream's handler, reading without a task per frame."""
        if self.connected:
            if not await self._upgrade_from_polling(ws):
                self._offered_writer = None
                return
        else:
            self.connected = True
            self.upgraded = True
        # Only now is this WebSocket the socket's transport: a frame written to it during a
        # polling client's upgrade probe would never reach the client's event handlers.
        self._writer, self._offered_writer = self._offered_writer, None
        writer = asyncio.ensure_future(self._write_loop(ws))
        await self._read_loop(ws)
        await self.queue.put(None)  # lets the writer finish
        await writer
        await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)

    async def _read_loop(self, ws: Any) -> None:
        loop = asyncio.get_running_loop()
        self._reader = asyncio.current_task()
        self._heard_at = loop.time()
        try:
            while True:
                try:
                    data = await ws.wait()
                except asyncio.CancelledError:
                    # Cut by the sweep (silent past the deadline), or the server is stopping:
                    # upstream too ends the read loop then, and cleans up after it either way.
                    if self._silenced and self._reader is not None:
                        self._reader.uncancel()
                    return
                except Exception:
                    return  # the transport failed
                self._heard_at = loop.time()
                if data is None or len(data) > self.server.max_http_buffer_size:
                    return  # closed by the client, or a packet over the limit
                if not await self._handle_frame(data):
                    return
        finally:
            self._reader = None

    async def _handle_frame(self, data: Any) -> bool:
        """Hand one frame to Engine.IO; False when the socket is done reading."""
        try:
            await self.receive(packet.Packet(encoded_packet=data))
        except asyncio.CancelledError:
            if not self._silenced or self._reader is None:
                raise
            self._reader.uncancel()  # closed by another task while this frame ran
            return False
        except exceptions.UnknownPacketError:
            pass
        except exceptions.SocketIsClosedError:
            return False
        except Exception:
            self.server.logger.exception("Unknown receive error")
        return not self._silenced  # this frame may have closed the socket

    async def _write_loop(self, ws: Any) -> None:
        # No deadline here, unlike upstream: the read loop always ends by queueing None (a
        # silent client within PING_INTERVAL + PING_TIMEOUT), and that ends this loop.
        while True:
            packets = await self._next_packets()
            if not packets:
                break  # the connection is closing
            self._writing = True  # frames written directly now would overtake these
            try:
                for pkt in packets:
                    await ws.send(pkt.encode())
            except Exception:
                break
            finally:
                self._writing = False
        self._writer = None
        await ws.close()

    async def _upgrade_from_polling(self, ws: Any) -> bool:
        """The polling → WebSocket upgrade handshake (probe, then UPGRADE), as upstream."""
        self.upgrading = True  # hold packet sends during the upgrade
        try:
            probe = await ws.wait()
        except OSError:
            return False
        decoded = packet.Packet(encoded_packet=probe)
        if decoded.packet_type != packet.PING or decoded.data != "probe":
            self.upgrading = False
            return False
        await ws.send(packet.Packet(packet.PONG, data="probe").encode())
        self._enqueue(packet.Packet(packet.NOOP))  # ends the pending poll
        try:
            upgrade = await ws.wait()
        except OSError:
            self.upgrading = False
            return False
        if packet.Packet(encoded_packet=upgrade).packet_type != packet.UPGRADE:
            self.upgraded = False
            self.upgrading = False
            return False
        self.upgraded = True
        self.upgrading = False
        return True
