"""Room events written straight to a socket's connection (``LeanSocket.send_now`` with a
ready frame) never overtake what its writer task has yet to send, and never reach a
connection that is done with."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from engineio import packet
from engineio.base_server import BaseServer

from parley_gateway.transport.engine_socket import LeanSocket
from parley_gateway.transport.ws_protocol import text_frame


class _Server:
    ping_interval, ping_timeout, lag_s = 2.0, 2.5, 0.0
    reason = BaseServer.reason

    def create_queue(self) -> asyncio.Queue[Any]:
        return asyncio.Queue()


class _Connection:
    """What the writer sent and what was written directly, in the order it hit the wire."""

    def __init__(self) -> None:
        self.wire: list[str] = []
        self.open = True

    def write_frame(self, frame: bytes) -> bool:
        if not self.open:
            return False
        self.wire.append(frame[2:].decode())  # past the 2-byte header of a short text frame
        return True

    def buffered(self) -> int:
        return 0

    def abort(self) -> None:
        self.open = False

    async def send(self, text: str) -> None:
        await asyncio.sleep(0)  # a send that yields, as the ASGI chain does
        self.wire.append(text)

    async def close(self) -> None:
        self.open = False


def _message(text: str) -> tuple[packet.Packet, bytes]:
    pkt = packet.Packet(packet.MESSAGE, text)
    return pkt, text_frame(pkt.encode())


async def _socket(connection: _Connection) -> tuple[LeanSocket, asyncio.Task[None]]:
    socket = LeanSocket(_Server(), "sid")
    socket._writer = connection
    writer = asyncio.create_task(socket._write_loop(connection))
    await asyncio.sleep(0)  # the writer waits on the empty queue
    return socket, writer


async def test_a_frame_goes_straight_out_when_nothing_waits_before_it() -> None:
    connection = _Connection()
    socket, writer = await _socket(connection)

    assert socket.send_now(*_message("direct"))
    assert connection.wire == ["4direct"]  # written at once, without the writer

    socket.queue.put_nowait(None)
    await writer


async def test_direct_frames_never_overtake_queued_packets() -> None:
    connection = _Connection()
    socket, writer = await _socket(connection)

    socket.queue.put_nowait(packet.Packet(packet.MESSAGE, "queued-1"))
    socket.queue.put_nowait(packet.Packet(packet.MESSAGE, "queued-2"))
    assert socket.send_now(*_message("after-queued"))  # queue not empty: queued too
    await asyncio.sleep(0)  # one loop turn: the writer takes all three, starts sending, yields
    assert socket._writing and socket.queue.empty()
    assert socket.send_now(*_message("while-writing"))  # writer busy: queued
    socket.queue.put_nowait(None)  # then the writer stops
    await writer

    assert connection.wire == ["4queued-1", "4queued-2", "4after-queued", "4while-writing"]


async def test_a_refused_frame_is_queued_and_a_closing_socket_takes_nothing() -> None:
    connection = _Connection()
    connection.open = False  # e.g. a close frame already sent
    socket = LeanSocket(_Server(), "sid")
    socket._writer = connection

    assert socket.send_now(*_message("refused"))
    assert connection.wire == [] and socket.queue.get_nowait().data == "refused"  # the usual way
    socket.closing = True
    assert not socket.send_now(*_message("after close"))
    assert socket.queue.empty()


async def test_a_socket_past_its_ping_deadline_is_closed_not_only_skipped() -> None:
    """A packet refused for a late pong was lost for good when the pong then came before
    the sweep: the socket lived on and its client never knew to sync. Closed now, the
    client reconnects and syncs."""
    connection = _Connection()
    socket, writer = await _socket(connection)
    reasons: list[str] = []

    async def close(*, wait: bool, abort: bool, reason: str) -> None:
        reasons.append(reason)

    socket.close = close  # type: ignore[method-assign,assignment]
    socket.last_ping = time.time() - 60  # far past ping_timeout + lag

    assert not socket.send_now(*_message("late"))
    assert not socket.send_now(*_message("later"))
    await asyncio.sleep(0)  # the close task runs
    assert reasons == [BaseServer.reason.PING_TIMEOUT]  # closed once, as upstream's send does
    assert connection.wire == [] and socket.queue.empty()
    socket.queue.put_nowait(None)
    await writer


class _ProbingWebSocket:
    """A polling client's upgrade WebSocket whose probe has not come yet."""

    def __init__(self) -> None:
        self.probe = asyncio.Event()

    async def wait(self) -> str:
        await self.probe.wait()
        return "5"  # not a probe: the upgrade is abandoned

    async def send(self, text: str) -> None:
        raise AssertionError("nothing is sent before the probe")


async def test_nothing_is_written_to_a_websocket_before_the_upgrade_completes() -> None:
    """A frame written to the WebSocket of an unfinished upgrade never reaches the client's
    handlers: until the upgrade is done, events go the polling way (the queue)."""
    connection = _Connection()
    socket = LeanSocket(_Server(), "sid")
    socket.connected = True  # a polling session
    socket._offered_writer = connection  # what _upgrade_websocket found
    upgrade = _ProbingWebSocket()
    handler = asyncio.create_task(socket._websocket_handler(upgrade))
    await asyncio.sleep(0)  # the handler waits for the probe

    assert socket.send_now(*_message("during the probe"))
    assert connection.wire == [] and socket.queue.get_nowait().data == "during the probe"
    upgrade.probe.set()
    await handler
    assert socket._writer is None and socket._offered_writer is None


async def test_a_ping_goes_straight_out_when_nothing_waits_before_it() -> None:
    connection = _Connection()
    socket, writer = await _socket(connection)

    socket._ping_due()
    assert connection.wire == ["2"] and socket.last_ping  # its pong deadline runs from now

    socket.queue.put_nowait(packet.Packet(packet.MESSAGE, "queued"))
    socket._ping_due()  # behind a queued packet: queued too, in order
    socket.queue.put_nowait(None)
    await writer
    assert connection.wire == ["2", "4queued", "2"]
