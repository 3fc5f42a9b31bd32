"""tests.support.balancer: a connection cut at any moment leaves no socket to the collector."""

from __future__ import annotations

import asyncio

from tests.support.balancer import piping


async def test_a_pipe_cancelled_before_its_first_step_still_closes_its_socket() -> None:
    served = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()
        await writer.wait_closed()
        served.set()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)  # in this loop: bound before it returns
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        task = piping(reader, writer)
        task.cancel()  # in the turn that created it, as a cut() right after a connection is piped
        await asyncio.wait([task])
        assert task.cancelled()
        assert writer.is_closing()
        await writer.wait_closed()
        await served.wait()  # the server's side closed too, not left to the next test's collector
    finally:
        server.close()
        await server.wait_closed()
