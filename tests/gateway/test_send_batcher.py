"""Sends coalesce only under load: alone they go at once, behind busy calls they batch."""

from __future__ import annotations

import asyncio
from typing import Any

from parley_common.errors import Forbidden, Unavailable
from parley_gateway.send_batcher import MAX_IN_FLIGHT, SendBatcher


class SlowMessages:
    """Answers each batch call when the test releases it."""

    def __init__(self) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.release = asyncio.Event()
        self.fail_with: Exception | None = None

    async def send_batch(self, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.calls.append(bodies)
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return [
            {"ok": False, "error": {"code": "forbidden", "message": "no"}}
            if body["n"] < 0
            else {"ok": True, "message": {"seq": body["n"]}, "duplicate": False}
            for body in bodies
        ]


async def turns(n: int = 10) -> None:
    """Let scheduled tasks run: loop turns, not time."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_lone_send_goes_at_once_and_busy_ones_batch() -> None:
    messages = SlowMessages()
    batcher = SendBatcher(messages)  # type: ignore[arg-type]
    first = [asyncio.create_task(batcher.send({"n": n})) for n in range(MAX_IN_FLIGHT)]
    await turns()
    assert [len(c) for c in messages.calls] == [1] * MAX_IN_FLIGHT  # nothing waited to fill a batch

    queued = [asyncio.create_task(batcher.send({"n": n})) for n in range(10, 20)]
    await turns()
    assert len(messages.calls) == MAX_IN_FLIGHT  # all calls busy: these wait
    messages.release.set()
    answers = await asyncio.gather(*first, *queued)

    assert [len(c) for c in messages.calls] == [1] * MAX_IN_FLIGHT + [10]
    assert [a["message"]["seq"] for a in answers] == [*range(MAX_IN_FLIGHT), *range(10, 20)]


async def test_each_send_gets_its_own_refusal() -> None:
    messages = SlowMessages()
    messages.release.set()
    batcher = SendBatcher(messages)  # type: ignore[arg-type]

    ok, refused = await asyncio.gather(
        batcher.send({"n": 1}), batcher.send({"n": -1}), return_exceptions=True
    )

    assert isinstance(ok, dict) and ok["message"]["seq"] == 1
    assert isinstance(refused, Forbidden)


async def test_a_failed_call_fails_every_send_in_it() -> None:
    messages = SlowMessages()
    messages.fail_with = Unavailable("down")
    batcher = SendBatcher(messages)  # type: ignore[arg-type]
    busy = [asyncio.create_task(batcher.send({"n": n})) for n in range(MAX_IN_FLIGHT)]
    await turns()
    batched = [asyncio.create_task(batcher.send({"n": n})) for n in range(10, 15)]
    await turns()
    messages.release.set()

    outcomes = await asyncio.gather(*busy, *batched, return_exceptions=True)

    assert [len(c) for c in messages.calls] == [1] * MAX_IN_FLIGHT + [5]  # the five shared one call
    assert all(isinstance(outcome, Unavailable) for outcome in outcomes), outcomes
