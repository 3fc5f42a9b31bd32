"""A flaky link between the clients and the gateways: a TCP proxy that delays, cuts and
silently drops (established connections, and new ones while clients reconnect), while
members chat through the SDK. Ends with the invariant of :mod:`tests.faults.invariant`."""

from __future__ import annotations

import asyncio

import pytest
from parley_client import connection

from tests.faults.conftest import Faults
from tests.faults.workload import Chat
from tests.support.faulty_proxy import FaultyProxy

pytestmark = pytest.mark.timeout(180)
DELAY_S = 0.3
DROP_S = 1.0  # how long the link swallows everything: the fault's schedule
CUTS = 3


async def test_flaky_link(faults: Faults, monkeypatch: pytest.MonkeyPatch) -> None:
    # A connect attempt into a dead link gives up after this long (10 s in the SDK) and retries.
    monkeypatch.setattr(connection, "CONNECT_TIMEOUT_S", 2.0)
    port = int(faults.url.rsplit(":", 1)[1])
    proxy = FaultyProxy(port)
    async with proxy.running(), Chat.running(faults.cluster, f"http://127.0.0.1:{proxy.port}") as chat:
        await chat.acks(10)

        proxy.delay(DELAY_S)  # slow both ways: acks come late, nothing is resent needlessly
        await chat.acks(10)
        proxy.heal()

        for _ in range(CUTS):  # reset mid-stream: in-flight sends are resent after reconnecting
            proxy.cut()
            await chat.all_reconnect()
            await chat.acks(10)

        # Dropped silently: nobody is told; the liveness pings notice (< 5 s) and clients reconnect.
        proxy.blackhole()
        await asyncio.sleep(DROP_S)
        proxy.heal()
        await chat.all_reconnect()
        await chat.acks(10)

        # Cut, and every reconnect attempt goes into a link that drops everything: each one
        # must give up (CONNECT_TIMEOUT_S) rather than hang, so that the next one can work.
        proxy.blackhole()
        proxy.cut()
        await chat.every_attempt_fails()
        proxy.heal()
        await chat.all_reconnect()
        await chat.acks(10)

        await faults.verdict(chat, "flaky link")
    assert chat.reconnects >= (CUTS + 2) * len(chat.members)
