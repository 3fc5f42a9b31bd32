"""The gateway's WebSocket protocol: frames written directly in one loop turn leave in one
transport write, after nothing the protocol wrote before them and before anything it
writes after them; and :func:`text_frame` is websockets' own framing, byte for byte."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from parley_gateway.transport.ws_protocol import WebSocketProtocol, text_frame


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 70_000])
def test_text_frame_is_websockets_framing(length: int) -> None:
    text = ("é" * length)[: length // 2] + "x" * (length - length // 2)
    expected = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
    assert text_frame(text) == expected


class _Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return sum(map(len, self.writes))

    def abort(self) -> None:
        self.closing = True


class _Connection:
    state = State.OPEN
    extensions: list[Any] = []


def _protocol() -> tuple[WebSocketProtocol, _Transport]:
    # Only what write_frame and _flush touch: uvicorn's constructor wants a whole server.
    protocol = WebSocketProtocol.__new__(WebSocketProtocol)
    transport = _Transport()
    protocol.transport = transport  # type: ignore[assignment]
    protocol.conn = _Connection()  # type: ignore[assignment]
    protocol.close_sent = False
    protocol.writable = asyncio.Event()
    protocol.writable.set()
    protocol.loop = asyncio.get_running_loop()
    return protocol, transport


async def test_frames_of_one_turn_leave_in_one_write() -> None:
    protocol, transport = _protocol()
    first, second = text_frame('42["message:ack",{}]'), text_frame('430[{"ok":true}]')

    assert protocol.write_frame(first) and protocol.write_frame(second)
    assert transport.writes == []
    assert protocol.buffered() == len(first) + len(second)  # counted against MAX_OUTGOING_BYTES
    await asyncio.sleep(0)
    assert transport.writes == [first + second]

    third = text_frame('42["message:new",{}]')
    assert protocol.write_frame(third)
    await asyncio.sleep(0)
    assert transport.writes == [first + second, third]  # a later turn, a write of its own


async def test_pending_frames_go_before_what_the_protocol_writes_next() -> None:
    protocol, transport = _protocol()
    frame = text_frame('42["message:new",{}]')
    assert protocol.write_frame(frame)
    protocol._flush()  # what send() and data_received() do before they write
    transport.write(b"close")
    await asyncio.sleep(0)  # the turn's own flush finds nothing left
    assert transport.writes == [frame, b"close"]


async def test_nothing_pending_is_written_once_the_connection_is_done() -> None:
    protocol, transport = _protocol()
    assert protocol.write_frame(text_frame("closed before the end of the turn"))
    protocol.close_sent = True
    await asyncio.sleep(0)
    assert transport.writes == []
    assert not protocol.write_frame(text_frame("after the close"))

    protocol, transport = _protocol()
    assert protocol.write_frame(text_frame("aborted"))
    protocol.abort()
    await asyncio.sleep(0)
    assert transport.writes == [] and protocol.buffered() == 0
