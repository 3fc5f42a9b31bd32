"""Events to this gateway's own sockets: encoded once, queued without a task per receiver.

python-socketio's ``emit`` (with ``ignore_queue``) encodes a room event once but then starts
one asyncio task per receiver, and waits for them all; each task only puts the packet on
that socket's send queue. For a 1,000-member room that is 1,000 tasks per message, and in
a two-member chat the tasks cost more than the emit itself (py-spy, 400 msg/s). Here the
packet goes straight onto each socket's queue (:meth:`LeanEngineServer.send_now`), or,
framed once for every WebSocket receiver, straight onto its connection when nothing is
queued before it.

:func:`send_locally` does the same for one packet to one socket: the Socket.IO ack of each
event (:class:`~parley_gateway.transport.socketio_server.ParleyServer`), which upstream sends
through the socket's queue, its writer task, the ASGI send chain and websockets' framing.

Only events for this gateway's sockets go this way (bus fan-out, acks to one socket);
emits that must reach other gateways (typing) still go through the Socket.IO manager.
"""

from __future__ import annotations

from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from parley_gateway.transport.engine_server import LeanEngineServer
from parley_gateway.transport.ws_protocol import text_frame

NAMESPACE = "/"


class JsonOnlyPacket(sio_packet.Packet):
    """Socket.IO packets that never look for binary data in what they send.

    Parley's events are JSON (binary packets from clients are refused), so python-socketio's
    walk over every value of every outgoing event, looking for bytes, is pure cost.
    """

    uses_binary_events = False


def emit_locally(
    sio: socketio.AsyncServer, event: str, data: Any, *, room: str, skip_sid: str | None = None
) -> int:
    """Queue ``event`` for this gateway's sockets in ``room`` (a socket id is a room too),
    except ``skip_sid``; returns how many sockets it was queued for."""
    engine: LeanEngineServer = sio.eio
    participants = list(sio.manager.get_participants(NAMESPACE, room))
    if not participants:
        return 0
    pkt, frame = _framed(sio.packet_class(sio_packet.EVENT, namespace=NAMESPACE, data=[event, data]))
    return sum(1 for sid, eio_sid in participants if sid != skip_sid and engine.send_now(eio_sid, pkt, frame))


def send_locally(sio: socketio.AsyncServer, eio_sid: str, sio_pkt: sio_packet.Packet) -> bool:
    """Send one (JSON) Socket.IO packet to one of this gateway's sockets, without awaiting;
    False if that socket is done with."""
    engine: LeanEngineServer = sio.eio
    pkt, frame = _framed(sio_pkt)
    return engine.send_now(eio_sid, pkt, frame)


def _framed(sio_pkt: sio_packet.Packet) -> tuple[eio_packet.Packet, bytes]:
    """The Engine.IO packet carrying ``sio_pkt``, and the same as a WebSocket frame."""
    pkt = eio_packet.Packet(eio_packet.MESSAGE, sio_pkt.encode())
    return pkt, text_frame(pkt.encode())  # the same bytes for every WebSocket receiver
