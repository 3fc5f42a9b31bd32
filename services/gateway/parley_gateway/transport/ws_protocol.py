"""uvicorn's WebSocket protocol, answering the handshakes it cannot parse, and writing
ready-made frames straight to the connection.

websockets refuses an upgrade request whose header lines are too long or too many (a
431 answer, e.g. for a 30 KB ``Authorization`` header), but uvicorn's ``websockets-sansio``
protocol (0.54) never writes that answer: the client waits forever, the gateway holds the
connection, and uvicorn's shutdown fails on it. This subclass sends the refusal and closes.

It also puts itself in the connection's ASGI scope (under :data:`DIRECT_WRITER`), as a
:class:`DirectWriter`: a frame the server sends is the same bytes for every receiver
(unmasked, no extension), so a room event is framed once and written to each member's
transport, instead of passing every copy through the ASGI send chain (four middleware
wrappers and an await each) and websockets' framing. The same object tells how many bytes
wait in the transport for a client to read them, so that a reader that falls behind can be
cut off (``MAX_OUTGOING_BYTES``) instead of growing the gateway.

Frames written directly in one event-loop turn go out in one ``transport.write`` at the end
of it: an event's ``message:ack`` and its Socket.IO ack are two frames of the same turn, and
each write is a ``send`` system call. Anything this protocol writes otherwise (what the ASGI
app sends, a close frame) first writes what is pending, so the order on the wire is the
order of the calls.
"""

from __future__ import annotations

from typing import Any, Protocol

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from parley_gateway.transport.light_queue import LightQueue

DIRECT_WRITER = "parley.direct_writer"  # in scope["extensions"]
_FIN_TEXT = 0x81  # a final (unfragmented) text frame


class DirectWriter(Protocol):
    """What a WebSocket connection offers the Engine.IO socket on top of it."""

    def write_frame(self, frame: bytes) -> bool: ...

    def buffered(self) -> int: ...

    def abort(self) -> None: ...


def text_frame(text: str) -> bytes:
    """A server-to-client WebSocket text frame (one per broadcast, for every receiver): the
    bytes of websockets' ``Frame(Opcode.TEXT, data).serialize(mask=False)``, without its
    frame object and buffer (RFC 6455 §5.2: FIN + opcode, then the length)."""
    data = text.encode()
    length = len(data)
    if length < 126:
        return bytes((_FIN_TEXT, length)) + data
    if length < 65536:
        return bytes((_FIN_TEXT, 126)) + length.to_bytes(2, "big") + data
    return bytes((_FIN_TEXT, 127)) + length.to_bytes(8, "big") + data


class WebSocketProtocol(WebSocketsSansIOProtocol):
    # Frames accepted by write_frame this loop turn, written together by _flush.
    _pending: list[bytes] | None = None
    _pending_size: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The ASGI receive queue: put_nowait, get, empty are all uvicorn uses (see light_queue).
        self.queue = LightQueue()  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        # A close frame from the client is answered from in here: what was accepted before
        # it goes out first, as it would have without the coalescing.
        self._flush()
        super().data_received(data)
        if self.conn.handshake_exc is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        self.scope["extensions"][DIRECT_WRITER] = self  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        self._flush()  # the app's sends and close frames never overtake direct frames
        await super().send(message)
        if self.handshake_complete and getattr(self, "response", None) is not None:
            # uvicorn reads the upgrade request and its answer only until the answer is sent,
            # and keeps both (two Headers objects, ~4 KB) for the connection's life.
            self.request = self.response = None  # type: ignore[assignment]

    def write_frame(self, frame: bytes) -> bool:
        """Write a frame from :func:`text_frame` at the end of this loop turn, if the
        connection is open for it (False: the caller sends it the usual way, or not at all)."""
        if self.conn.state is not State.OPEN or self.close_sent or self.transport.is_closing():
            return False
        if self.conn.extensions:  # a frame with an extension (deflate) differs per connection
            return False
        if not self.writable.is_set():
            # The transport's buffer is over its high-water mark (the client reads slowly):
            # the frame queues behind, for the writer that waits until it drains.
            return False
        pending = self._pending
        if pending is None:
            self._pending = [frame]
            self.loop.call_soon(self._flush)
        else:
            pending.append(frame)
        self._pending_size += len(frame)
        return True

    def _flush(self) -> None:
        pending = self._pending
        if pending is None:
            return
        self._pending, self._pending_size = None, 0
        # Accepted while open; a connection closed since has no use for them.
        if self.conn.state is State.OPEN and not self.close_sent and not self.transport.is_closing():
            self.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def buffered(self) -> int:
        """Bytes written to the connection that the client has not taken yet."""
        return self.transport.get_write_buffer_size() + self._pending_size

    def abort(self) -> None:
        """Drop the connection and whatever it still buffers (a reader too far behind)."""
        self._pending, self._pending_size = None, 0
        self.transport.abort()
