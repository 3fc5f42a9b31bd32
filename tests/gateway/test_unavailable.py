"""A slow or absent messages service: ``unavailable`` in bounded time, then recovery by itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from parley_common.auth import mint_token
from parley_common.bus import InProcessBus
from parley_common.presence import InProcessReports
from parley_gateway.app import create_app as create_gateway
from parley_messages.app import create_app as create_messages
from parley_messages.config import MessagesSettings
from tests.gateway.conftest import common_settings, gateway_settings, message_payload
from tests.support.ports import free_port
from tests.support.servers import uvicorn_serving
from tests.support.sockets import SocketClient

TIMEOUT_S = 0.5


@asynccontextmanager
async def black_hole(port: int) -> AsyncIterator[None]:
    """Accepts connections and never answers: a hung service."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for writer in held:
            writer.close()
        await server.wait_closed()


async def test_unavailable_in_bounded_time_then_recovers(postgres_url: str) -> None:
    messages_port, gateway_port = free_port(), free_port()
    bus = InProcessBus()
    settings = gateway_settings(
        messages_url=f"http://127.0.0.1:{messages_port}", internal_timeout_s=TIMEOUT_S
    )
    gateway = create_gateway(settings, bus=bus, presence_sink=InProcessReports())
    async with uvicorn_serving(gateway, gateway_port):
        token, _ = mint_token(settings, "alice")
        client = await SocketClient().connect(f"http://127.0.0.1:{gateway_port}", token=token)
        try:
            payload = message_payload("some-conversation")

            # Nothing listens: refused at once.
            down = await client.call("message:send", payload)
            assert down["error"]["code"] == "unavailable"

            # Something listens and never answers: refused after the internal timeout.
            async with black_hole(messages_port):
                started = time.monotonic()
                hung = await client.call("message:send", payload)
                elapsed = time.monotonic() - started
            assert hung["error"]["code"] == "unavailable"
            assert TIMEOUT_S <= elapsed < TIMEOUT_S + 1.5

            # The service comes back: the next event goes through, no restart needed.
            messages = create_messages(
                MessagesSettings(**common_settings(database_url=postgres_url)),
                bus=bus,
            )
            async with uvicorn_serving(messages, messages_port):
                back = await client.call("message:send", payload)
            assert back["error"]["code"] == "not_found"  # answered by the service itself
        finally:
            await client.close()
