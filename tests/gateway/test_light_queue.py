"""The sockets' queue (transport/light_queue.py) behaves as asyncio.Queue does for what
python-engineio and uvicorn use of it: order, waiting getters, cancelled getters, join."""

from __future__ import annotations

import asyncio

import pytest

from parley_gateway.transport.light_queue import LightQueue


async def test_items_come_out_in_order_and_get_nowait_raises_when_empty() -> None:
    queue: LightQueue[int] = LightQueue()
    assert queue.empty() and queue.qsize() == 0
    for n in range(3):
        await queue.put(n)
    assert queue.qsize() == 3
    assert [await queue.get(), queue.get_nowait(), await queue.get()] == [0, 1, 2]
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()


async def test_a_waiting_getter_is_woken_by_a_put() -> None:
    queue: LightQueue[str] = LightQueue()
    getters = [asyncio.ensure_future(queue.get()) for _ in range(2)]
    await asyncio.sleep(0)
    queue.put_nowait("a")
    queue.put_nowait("b")
    assert sorted(await asyncio.gather(*getters)) == ["a", "b"]


async def test_a_cancelled_getter_takes_nothing_and_hands_its_wake_up_on() -> None:
    queue: LightQueue[str] = LightQueue()
    first = asyncio.ensure_future(queue.get())
    second = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("x")  # wakes the first, which is cancelled before it runs
    first.cancel()
    assert await asyncio.wait_for(second, 1) == "x"
    assert first.cancelled() and queue.empty()


async def test_join_waits_until_every_item_is_done() -> None:
    queue: LightQueue[int] = LightQueue()
    await asyncio.wait_for(queue.join(), 1)  # nothing put: returns at once
    queue.put_nowait(1)
    joined = asyncio.ensure_future(queue.join())
    await asyncio.sleep(0)
    queue.get_nowait()
    assert not joined.done()
    queue.task_done()
    await asyncio.wait_for(joined, 1)
    with pytest.raises(ValueError):
        queue.task_done()
