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
"""

from __future__ import annotations

from typing import Any, Protocol

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

DIRECT_WRITER = "parley.direct_writer"  # in scope["extensions"]


class DirectWriter(Protocol):
    """What a WebSocket connection offers the Engine.IO socket on top of it."""

    def write_frame(self, frame: bytes) -> bool: ...

    def buffered(self) -> int: ...

    def abort(self) -> None: ...


def text_frame(text: str) -> bytes:
    """A server-to-client WebSocket text frame (one per broadcast, for every receiver)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.handshake_exc is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        self.scope["extensions"][DIRECT_WRITER] = self  # type: ignore[assignment]

    def write_frame(self, frame: bytes) -> bool:
        """Write a frame from :func:`text_frame` now, if the connection is open for it
        (False: the caller sends it the usual way, or not at all)."""
        if self.conn.state is not State.OPEN or self.close_sent or self.transport.is_closing():
            return False
        if self.conn.extensions:  # a frame with an extension (deflate) differs per connection
            return False
        if not self.writable.is_set():
            # The transport's buffer is over its high-water mark (the client reads slowly):
            # the frame queues behind, for the writer that waits until it drains.
            return False
        self.transport.write(frame)
        return True

    def buffered(self) -> int:
        """Bytes written to the connection that the client has not taken yet."""
        return self.transport.get_write_buffer_size()

    def abort(self) -> None:
        """Drop the connection and whatever it still buffers (a reader too far behind)."""
        self.transport.abort()
