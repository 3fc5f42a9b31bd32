"""uvicorn's WebSocket protocol, answering the handshakes it cannot parse.

websockets refuses an upgrade request whose header lines are too long or too many (a
431 answer, e.g. for a 30 KB ``Authorization`` header), but uvicorn's ``websockets-sansio``
protocol (0.54) never writes that answer: the client waits forever, the gateway holds the
connection, and uvicorn's shutdown fails on it. This subclass sends the refusal and closes.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.handshake_exc is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()
