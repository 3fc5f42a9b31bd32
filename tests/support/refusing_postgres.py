"""A TCP server that answers every PostgreSQL connection as a server starting up or shutting
down does: ``FATAL 57P03 the database system is starting up`` (PostgreSQL's wire protocol,
just enough of it: the SSL request is declined, the startup message refused)."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

_SSL_OR_GSS_REQUEST = (80877103, 80877104)
_REFUSAL = b"SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0\0"


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            length, code = struct.unpack("!ii", await reader.readexactly(8))
            await reader.readexactly(length - 8)
            if code not in _SSL_OR_GSS_REQUEST:
                break  # the startup message
            writer.write(b"N")
        writer.write(b"E" + struct.pack("!i", len(_REFUSAL) + 4) + _REFUSAL)
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@asynccontextmanager
async def refusing_postgres() -> AsyncIterator[str]:
    """The URL of such a server, for as long as the context is open."""
    server = await asyncio.start_server(_refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/parley"
    finally:
        server.close()
        await server.wait_closed()
