"""Every timing rule of the SDK (PROTOCOL §6) with a controllable clock."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from parley_client.backoff import reconnect_delay
from parley_client.clock import FakeClock
from parley_client.errors import Forbidden, RateLimited, Unavailable
from parley_client.http_link import HttpLink
from parley_client.outbox import Outbox, OutboxItem
from parley_client.sender import NotConnected, Sender
from parley_client.typing_indicator import TypingSender, TypingWatcher


def test_reconnect_backoff_doubles_to_thirty_seconds() -> None:
    assert [reconnect_delay(n) for n in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_reconnect_jitter_stays_within_half_and_under_the_cap() -> None:
    rng = random.Random(7)
    for attempt in range(10):
        base = min(30, 2**attempt)
        for _ in range(200):
            delay = reconnect_delay(attempt, rng)
            assert base * 0.5 <= delay <= min(30, base * 1.5)


class FakeSocket:
    """Records every emit with the clock's time; answers as scripted."""

    def __init__(self, clock: FakeClock, answers: list[Any] | None = None) -> None:
        self.clock = clock
        self.answers = answers or []
        self.sent: list[tuple[float, dict[str, Any]]] = []
        self.online = asyncio.Event()
        self.online.set()

    @property
    def connected(self) -> bool:
        return self.online.is_set()

    async def wait_connected(self) -> None:
        await self.online.wait()

    async def call(self, event: str, payload: dict[str, Any]) -> Any:
        self.sent.append((self.clock.now(), payload))
        answer = self.answers.pop(0) if self.answers else "silence"
        if answer == "silence":
            await asyncio.Event().wait()  # never answered
        if answer == "drop":
            raise NotConnected()
        return answer


def ack(seq: int = 1) -> dict[str, Any]:
    return {"ok": True, "message": {"seq": seq}, "duplicate": False}


def error(code: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": code, **extra}}


async def deliver(clock: FakeClock, socket: FakeSocket) -> asyncio.Task[Any]:
    outbox = Outbox()
    sender = Sender(outbox, socket, clock, lambda item, outcome: None)
    return asyncio.create_task(sender.deliver(OutboxItem("c", "key-1", "hello")))


async def test_an_unanswered_send_is_retried_after_1_2_4_s_then_fails() -> None:
    clock = FakeClock()
    socket = FakeSocket(clock)
    task = await deliver(clock, socket)

    await clock.advance(100)

    # 5 s ack wait each; then 1, 2, 4 s pauses: attempts at 0, 6, 13, 22; failed at 27.
    assert [t for t, _ in socket.sent] == [0, 6, 13, 22]
    assert {p["clientMessageId"] for _, p in socket.sent} == {"key-1"}
    assert isinstance(task.result(), Unavailable)


async def test_an_ack_on_a_retry_is_success() -> None:
    clock = FakeClock()
    socket = FakeSocket(clock, ["silence", ack(7)])
    task = await deliver(clock, socket)

    await clock.advance(10)

    assert [t for t, _ in socket.sent] == [0, 6]
    assert task.result()["message"]["seq"] == 7


async def test_rate_limited_waits_the_given_time_and_does_not_count() -> None:
    clock = FakeClock()
    answers: list[Any] = [error("rate_limited", retryAfterMs=1500)] * 5 + [ack()]
    socket = FakeSocket(clock, answers)
    task = await deliver(clock, socket)

    await clock.advance(20)

    assert [t for t, _ in socket.sent] == [0, 1.5, 3.0, 4.5, 6.0, 7.5]
    assert task.result()["ok"] is True


async def test_refusals_fail_at_once() -> None:
    clock = FakeClock()
    socket = FakeSocket(clock, [error("forbidden")])
    task = await deliver(clock, socket)

    await clock.advance(0)

    assert isinstance(task.result(), Forbidden)
    assert len(socket.sent) == 1


async def test_time_offline_does_not_count_against_the_retries() -> None:
    clock = FakeClock()
    socket = FakeSocket(clock, ["drop", "drop", ack()])
    socket.online.clear()
    task = await deliver(clock, socket)

    await clock.advance(3600)  # an hour offline: still queued, nothing sent
    assert socket.sent == [] and not task.done()
    socket.online.set()
    await clock.advance(0)

    assert task.result()["ok"] is True
    assert len(socket.sent) == 3  # two attempts lost with the link, the third acked


async def test_unavailable_counts_like_a_lost_ack() -> None:
    clock = FakeClock()
    socket = FakeSocket(clock, [error("unavailable")] * 4)
    task = await deliver(clock, socket)

    await clock.advance(10)

    assert [t for t, _ in socket.sent] == [0, 1, 3, 7]
    assert isinstance(task.result(), Unavailable)
    assert not isinstance(task.result(), RateLimited)


class Emits:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.seen: list[tuple[float, str]] = []

    async def __call__(self, event: str) -> None:
        self.seen.append((self.clock.now(), event))


async def test_typing_starts_on_the_first_keystroke_and_stops_after_2_s_idle() -> None:
    clock = FakeClock()
    emits = Emits(clock)
    typing = TypingSender(emits, clock)

    typing.keystroke()
    await clock.advance(1.5)
    typing.keystroke()
    typing.keystroke()
    await clock.advance(10)

    assert emits.seen == [(0, "typing:start"), (3.5, "typing:stop")]


async def test_typing_start_is_repeated_every_3_s_while_keystrokes_go_on() -> None:
    """A long burst of typing never expires on the others' screens (their 6 s timeout)."""
    clock = FakeClock()
    emits = Emits(clock)
    typing = TypingSender(emits, clock)

    for _ in range(40):  # a keystroke every 0.25 s for 10 s
        typing.keystroke()
        await clock.advance(0.25)
    await clock.advance(10)

    assert emits.seen == [
        (0, "typing:start"),
        (3, "typing:start"),
        (6, "typing:start"),
        (9, "typing:start"),
        (11.75, "typing:stop"),  # 2 s after the last keystroke, at 9.75 s
    ]


async def test_typing_is_not_repeated_more_often_than_every_3_s() -> None:
    clock = FakeClock()
    emits = Emits(clock)
    typing = TypingSender(emits, clock)

    for _ in range(100):  # fast typing: 16 keystrokes a second (a step exact in binary)
        typing.keystroke()
        await clock.advance(0.0625)

    assert [t for t, _ in emits.seen] == [0, 3, 6]


async def test_typing_stops_on_send() -> None:
    clock = FakeClock()
    emits = Emits(clock)
    typing = TypingSender(emits, clock)
    typing.keystroke()
    await clock.advance(0.5)

    typing.stop()
    await clock.advance(10)

    assert emits.seen == [(0, "typing:start"), (0.5, "typing:stop")]


async def test_remote_typing_hides_on_stop_or_after_6_s_and_never_shows_ones_own() -> None:
    clock = FakeClock()
    changes: list[float] = []
    watcher = TypingWatcher("me", clock, lambda: changes.append(clock.now()))

    watcher.started("me")
    watcher.started("bob")
    watcher.started("carol")
    assert watcher.typing_users == {"bob", "carol"}
    await clock.advance(4)
    watcher.started("bob")  # still typing: the 6 s start again
    watcher.stopped("carol")
    assert watcher.typing_users == {"bob"}
    await clock.advance(5.9)
    assert watcher.typing_users == {"bob"}
    await clock.advance(0.1)

    assert watcher.typing_users == set()
    assert changes == [0, 0, 4, 10]


async def test_an_unanswered_http_api_is_tried_again_at_the_reconnect_backoff() -> None:
    """The polling path's "offline": after a request with no answer, the next waits like a
    socket reconnect (1, 2, 4 s, jittered; uncounted), and an answer meanwhile ends the wait."""
    clock = FakeClock()
    link = HttpLink(clock, random.Random(7))
    jitter = random.Random(7)
    for attempt in range(3):
        backoff = reconnect_delay(attempt, jitter)  # 1, 2, 4 s, each ±50%
        link.report(False)
        waiter = asyncio.create_task(link.wait_usable())
        await clock.advance(backoff - 0.1)
        assert not waiter.done()
        await clock.advance(0.1)
        assert waiter.done()
    link.report(False)
    waiter = asyncio.create_task(link.wait_usable())
    await clock.advance(1)
    assert not waiter.done()
    link.report(True)  # the poller got through
    await clock.advance(0)
    assert waiter.done() and link.reachable
