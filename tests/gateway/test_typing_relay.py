"""Typing relays coalesced per user and conversation (parley_gateway.typing_relay), on a
controllable clock."""

from __future__ import annotations

from parley_gateway.typing_relay import TypingRelay


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_start_is_relayed_once_per_interval_and_a_stop_only_after_one() -> None:
    clock = Clock()
    relay = TypingRelay(interval_s=2.0, clock=clock)
    assert relay.start("alice", "c1")
    assert not relay.start("alice", "c1")  # nothing new to say
    assert relay.start("bob", "c1") and relay.start("alice", "c2")  # others are their own
    clock.now += 1.999
    assert not relay.start("alice", "c1")
    clock.now += 0.001
    assert relay.start("alice", "c1")  # a client repeating every 3 s is relayed every time
    assert relay.stop("alice", "c1")
    assert not relay.stop("alice", "c1")  # no second stop for one start
    assert relay.start("alice", "c1")  # typing again right after a stop: relayed at once


def test_old_starts_are_forgotten() -> None:
    clock = Clock()
    relay = TypingRelay(interval_s=2.0, clock=clock)
    for user in range(100):
        relay.start(f"user-{user}", "c1")
    clock.now += 61
    relay.start("last", "c1")
    assert list(relay._started) == [("last", "c1")]
