"""Presence between services: what gateways report, and where the answer is read.

Gateways report every socket's joins and leaves (:class:`PresenceReport`) to the presence
service, in order: on a Redis stream in production (:class:`RedisReportSink`), on a queue
in the embedded default (:class:`InProcessReports`). Gateways also keep a liveness key
alive; presence reaps the sockets of a gateway whose key expired. A gateway that finds its
key gone (Redis lost its state, or presence took the gateway for dead) reports a ``reset``
and then every socket it has again, so presence is rebuilt from the gateways. Presence is the only
writer of presence state; others read who is online through an :class:`OnlineReader`.
The Redis key layout lives here because both sides use it (docs/presence.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Protocol

from parley_common.redis_client import RedisClient

JOIN = "join"
LEAVE = "leave"
RESET = "reset"  # "forget every socket of this gateway": the joins that follow are all it has
# The stream is a work queue, not a log: presence acks what it applied. The cap only
# bounds a backlog built up while no presence replica runs.
REPORTS_MAXLEN = 1_000_000


@dataclass(frozen=True, slots=True)
class PresenceReport:
    kind: str  # JOIN, LEAVE or RESET
    gateway: str
    socket: str = ""  # socket, user and conversation are empty in a RESET
    user: str = ""
    conversation: str = ""

    def to_fields(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_fields(cls, fields: dict[bytes, bytes] | dict[str, str]) -> PresenceReport:
        text = {_text(k): _text(v) for k, v in fields.items()}
        return cls(
            kind=text["kind"],
            gateway=text["gateway"],
            socket=text["socket"],
            user=text["user"],
            conversation=text["conversation"],
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class PresenceKeys:
    """Every Redis key of presence. The ``{prefix}`` hash tag keeps them in one cluster slot,
    which the Lua scripts (that touch several at once) need."""

    def __init__(self, prefix: str) -> None:
        self.base = "{" + prefix + "}:presence"
        self.reports = f"{self.base}:reports"
        self.leader = f"{self.base}:leader"
        self.pending = f"{self.base}:pending"
        self.gateways = f"{self.base}:gateways"
        self.outbox = f"{self.base}:outbox"  # announcements to publish (Redis Cluster)

    def sockets(self, conversation_id: str, user_id: str) -> str:
        return f"{self.base}:sockets:{pair(conversation_id, user_id)}"

    def online(self, conversation_id: str) -> str:
        return f"{self.base}:online:{conversation_id}"

    def gateway_sockets(self, gateway: str) -> str:
        return f"{self.base}:gateway:{gateway}"

    def alive(self, gateway: str) -> str:
        return f"{self.base}:alive:{gateway}"


def pair(conversation_id: str, user_id: str) -> str:
    """An unambiguous string for (conversation, user): ids may contain any character.
    The Lua scripts build the same string (byte length, colon, both ids)."""
    return f"{len(conversation_id.encode())}:{conversation_id}{user_id}"


class OnlineReader(Protocol):
    async def online_users(self, conversation_id: str, user_ids: Iterable[str]) -> set[str]: ...


class RedisOnlineReader:
    def __init__(self, client: RedisClient, *, prefix: str) -> None:
        self._redis = client
        self._keys = PresenceKeys(prefix)

    async def online_users(self, conversation_id: str, user_ids: Iterable[str]) -> set[str]:
        members = await self._redis.smembers(self._keys.online(conversation_id))
        online = {_text(m) for m in members}
        return online.intersection(user_ids)


class ReportSink(Protocol):
    """Where a gateway's reports go, in the order given."""

    async def write(self, reports: list[PresenceReport]) -> None: ...

    async def alive(self, gateway: str, ttl_ms: int) -> bool:
        """Refresh the gateway's liveness key; False when it was gone: presence may have
        lost this gateway's sockets, which must then be reported again."""
        ...


class RedisReportSink:
    def __init__(self, client: RedisClient, *, prefix: str) -> None:
        self._redis = client
        self._keys = PresenceKeys(prefix)

    async def write(self, reports: list[PresenceReport]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for report in reports:
                pipe.xadd(
                    self._keys.reports,
                    report.to_fields(),  # type: ignore[arg-type]
                    maxlen=REPORTS_MAXLEN,
                    approximate=True,
                )
            await pipe.execute()

    async def alive(self, gateway: str, ttl_ms: int) -> bool:
        previous = await self._redis.set(self._keys.alive(gateway), b"1", px=ttl_ms, get=True)
        return previous is not None


class InProcessReports:
    """The embedded default: reports go straight to the presence service in this process."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[PresenceReport] = asyncio.Queue()

    async def write(self, reports: list[PresenceReport]) -> None:
        for report in reports:
            self.queue.put_nowait(report)

    async def alive(self, gateway: str, ttl_ms: int) -> bool:
        return True  # one process: the gateway cannot die, nor presence forget, without the other
