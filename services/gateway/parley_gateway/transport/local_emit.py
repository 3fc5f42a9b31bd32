"""Events to this gateway's own sockets: encoded once, queued without a task per receiver.

python-socketio's ``emit`` (with ``ignore_queue``) encodes a room event once but then starts
one asyncio task per receiver, and waits for them all; each task only puts the packet on
that socket's send queue. For a 1,000-member room that is 1,000 tasks per message, and in
a two-member chat the tasks cost more than the emit itself (py-spy, 400 msg/s). Here the
packet goes straight onto each socket's queue (:meth:`LeanEngineServer.send_now`), or,
framed once for every WebSocket receiver, straight onto its connection when nothing is
queued before it.

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
    encoded = sio.packet_class(sio_packet.EVENT, namespace=NAMESPACE, data=[event, data]).encode()
    pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
    frame = text_frame(pkt.encode())  # the same bytes for every WebSocket receiver
    return sum(1 for sid, eio_sid in participants if sid != skip_sid and engine.send_now(eio_sid, pkt, frame))
