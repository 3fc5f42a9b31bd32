"""The servers under Parley fail while members chat: Redis restarts empty (pub/sub
subscriptions, presence state, the report stream all gone) and PostgreSQL crashes and
recovers. Parley's processes are not restarted: they must recover by themselves."""

from __future__ import annotations

import asyncio

import pytest

from tests.client.conftest import until
from tests.faults.conftest import Faults, send_outcomes
from tests.faults.workload import Chat

pytestmark = pytest.mark.timeout(180)
# How long each server stays down: the fault's schedule, not a synchronisation. Redis long
# enough that a client backing off by doubling (1, 2, 4 s …) would still be waiting.
REDIS_OUTAGE_S = 3.5
POSTGRES_OUTAGE_S = 2.0
RESUBSCRIBED_S = 2.5  # every process subscribed to Redis again, this soon after it is back
REBUILT_S = 5.0  # presence shows everyone online again


async def test_redis_restart(faults: Faults) -> None:
    redis_server = faults.backends.redis
    async with Chat.running(faults.cluster, faults.url) as chat:
        await chat.acks(20)
        await asyncio.to_thread(redis_server.kill)
        await chat.acks(10)  # sends need no Redis: rate limits fail open, clients sync by seq
        await asyncio.sleep(REDIS_OUTAGE_S)
        await asyncio.to_thread(redis_server.start)
        await faults.all_ready(wait_s=RESUBSCRIBED_S)  # every process subscribed again, none restarted
        await chat.acks(20)
        await chat.all_online(wait_s=REBUILT_S)  # presence rebuilt from the gateways' sockets

        # Typing goes gateway to gateway through Redis pub/sub (the Socket.IO manager).
        await chat.settle()
        typist, watcher = chat.members[0], chat.members[1]  # on different gateways (round robin)
        typist.conversation.keystroke()
        await until(watcher.conversation, lambda c: typist.user_id in c.typing.typing_users, wait_s=5)

        await faults.verdict(chat, "redis restart")


async def test_postgres_restart(faults: Faults) -> None:
    postgres = faults.backends.postgres
    gateways = faults.cluster.gateways
    before = [await send_outcomes(g) for g in gateways]
    async with Chat.running(faults.cluster, faults.url) as chat:
        await chat.acks(20)
        await asyncio.to_thread(postgres.stop)  # an operator's restart: sessions terminated
        await asyncio.sleep(POSTGRES_OUTAGE_S)
        await asyncio.to_thread(postgres.start)
        await chat.acks(20)
        await asyncio.to_thread(postgres.crash)  # a crash: connections cut, crash recovery
        await asyncio.sleep(POSTGRES_OUTAGE_S)
        await asyncio.to_thread(postgres.start)  # every commit is kept
        await chat.acks(20)
        await faults.verdict(chat, "postgres restart", may_fail=True)
    after = [await send_outcomes(g) for g in gateways]
    counted = {
        outcome: sum(a.get(outcome, 0) - b.get(outcome, 0) for a, b in zip(after, before, strict=True))
        for outcome in ("unavailable", "internal")
    }
    assert counted["unavailable"] > 0, "sends were answered `unavailable` while the database was down"
    assert counted["internal"] == 0, "a database outage is `unavailable`, never `internal`"
