"""Parley's own processes fail while members chat through the SDK: a gateway is killed
(``kill -9``) or stopped (SIGTERM), the messages service or presence is killed and
restarted. Each scenario ends with the invariant of :mod:`tests.faults.invariant`."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.faults.conftest import Faults
from tests.faults.workload import Chat

pytestmark = pytest.mark.timeout(180)


async def test_gateway_kill_9(faults: Faults) -> None:
    doomed = faults.cluster.gateways[0]
    async with Chat.running(faults.cluster, faults.url) as chat:
        await chat.acks(20)
        await asyncio.to_thread(doomed.kill)  # no drain, no close frames: its members just lose the link
        await chat.acks(30)  # they reconnected through the balancer to the other gateway
        await faults.restart(doomed)
        await chat.acks(10)
        await faults.verdict(chat, "gateway kill -9")
    assert chat.reconnects >= 2, "half the members were on the killed gateway"


async def test_gateway_sigterm(faults: Faults) -> None:
    leaving = faults.cluster.gateways[1]
    async with Chat.running(faults.cluster, faults.url) as chat:
        await chat.acks(20)
        leaving.signal(signal.SIGTERM)  # drains: in-flight acks go out, then connections close
        assert await asyncio.to_thread(leaving.wait) == 0, leaving.logs()
        await chat.acks(30)
        await faults.restart(leaving)
        await chat.acks(10)
        await faults.verdict(chat, "gateway SIGTERM")
    assert chat.reconnects >= 2, "half the members were on the stopped gateway"


async def test_messages_service_restart(faults: Faults) -> None:
    messages = faults.cluster.messages
    async with Chat.running(faults.cluster, faults.url) as chat:
        await chat.acks(20)
        await asyncio.to_thread(messages.kill)  # sends are answered `unavailable` until it is back
        await faults.restart(messages)
        await chat.acks(30)
        await faults.verdict(chat, "messages restart", may_fail=True)


async def test_presence_service_restart(faults: Faults) -> None:
    presence = faults.cluster.presence[0]
    async with Chat.running(faults.cluster, faults.url) as chat:
        await chat.acks(20)
        await asyncio.to_thread(presence.kill)
        await chat.acks(20)  # presence is not on the send path
        await faults.restart(presence)
        await chat.acks(10)
        await faults.verdict(chat, "presence restart")
