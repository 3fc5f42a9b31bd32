"""What counts as "the database is unavailable": answered ``unavailable`` (retry with
backoff), never ``internal``, on every path (SQLAlchemy's and raw asyncpg's)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy import exc as sa_exc

from parley_common.errors import Unavailable

# SQLSTATEs of a server that cannot serve now: class 08 (connection exception), class 57
# (operator intervention: shutting down, starting up, in crash recovery), 53300 (too many
# connections). asyncpg reports some of them as plain server errors, not connection errors.
OUTAGE_SQLSTATES = ("08", "57", "53300")

# The same, as asyncpg raises them on a raw connection.
RAW_OUTAGES = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def is_outage(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError):
        sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
        return (
            exc.connection_invalidated
            or isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
            or sqlstate.startswith(OUTAGE_SQLSTATES)
        )
    return isinstance(exc, (*RAW_OUTAGES, asyncio.TimeoutError, sa_exc.TimeoutError))


@asynccontextmanager
async def outage_as_unavailable() -> AsyncIterator[None]:
    try:
        yield
    except Exception as exc:
        if is_outage(exc):
            raise Unavailable("the database is unavailable; nothing was stored") from exc
        raise
