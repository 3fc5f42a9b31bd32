"""Draining on SIGTERM (the process-level test is in tests/cluster): the policy itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from parley_gateway.drain import Drain
from tests.gateway.conftest import Stack, message_payload


async def test_a_drain_waits_for_events_in_flight() -> None:
    drain = Drain(timeout_s=5)
    entered, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def event() -> None:
        with drain.in_flight():
            entered.set()
            await release.wait()
            finished.append("event")

    running = asyncio.create_task(event())
    await entered.wait()
    draining = asyncio.create_task(drain.start())
    await asyncio.sleep(0)  # one turn of the loop: the drain starts and blocks on the event
    assert drain.draining and not draining.done()

    release.set()
    await asyncio.wait_for(draining, 1)
    assert finished == ["event"]
    await running


async def test_a_drain_gives_up_after_its_timeout(caplog: pytest.LogCaptureFixture) -> None:
    drain = Drain(timeout_s=0.2)
    loop = asyncio.get_running_loop()
    with drain.in_flight():
        started = loop.time()
        await asyncio.wait_for(drain.start(), 10)  # returns although the event never ends
        waited_s = loop.time() - started

    assert drain.draining
    assert waited_s >= 0.2 - 0.01  # it did wait for the event (a timer never fires early)
    assert "drain timeout: 1 event(s) still in flight" in caplog.text


async def test_events_during_a_drain_are_unavailable(stack: Stack, user: Callable[[str], str]) -> None:
    alice = user("alice")
    conversation = await stack.conversation(alice)
    client = await stack.socket(alice)

    assert stack.app is not None
    await stack.app.gateway.state.drain.start()
    ack = await client.call("message:send", message_payload(conversation))

    assert ack["error"]["code"] == "unavailable"
    synced = await stack.http.get(f"/api/conversations/{conversation}/messages", headers=stack.auth(alice))
    assert synced.json()["messages"] == []  # nothing was stored
