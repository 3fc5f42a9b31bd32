"""PROTOCOL §4.2 rate limit: 10 sends per sliding second per user, nothing stored over it.

It is counted from the stored messages, in the send's own transaction, on both backends (the
embedded default's SQLite and PostgreSQL, shared by every process). The clock is frozen and
moved by hand (time-machine): it gives the messages their createdAt and ends the window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import time_machine

from tests.messages.conftest import Api, make_settings, serve
from tests.messages.test_batch_send import send

User = Callable[[str], str]
T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


async def _codes(api: Api, user_id: str, conversation: str, count: int) -> list[int]:
    return [(await api.send(user_id, conversation)).status_code for _ in range(count)]


async def test_ten_per_second_then_retry_after(database_url: str, user: User) -> None:
    async with serve(make_settings(database_url)) as api:
        alice, bob = user("alice"), user("bob")
        conversation = await api.conversation(alice, bob)
        with time_machine.travel(T0, tick=False) as clock:
            assert await _codes(api, alice, conversation, 10) == [201] * 10
            refused = (await api.send(alice, conversation)).json()["error"]
            assert refused["retryAfterMs"] == 1000  # all ten at T0
            clock.shift(0.999)
            assert (await api.send(alice, conversation)).json()["error"]["retryAfterMs"] == 1
            assert await _codes(api, bob, conversation, 1) == [201]  # per user
            clock.shift(0.001)
            assert await _codes(api, alice, conversation, 10) == [201] * 10
            assert await _codes(api, alice, conversation, 1) == [429]


async def test_a_batch_counts_each_send_in_order(database_url: str, user: User) -> None:
    async with serve(make_settings(database_url)) as api:
        alice, bob = user("alice"), user("bob")
        conversation = await api.conversation(alice, bob)
        with time_machine.travel(T0, tick=False) as clock:
            assert await _codes(api, alice, conversation, 8) == [201] * 8
            results = await api.send_batch([send(u, conversation) for u in (alice, bob, alice, alice, bob)])
            assert [r["ok"] for r in results] == [True, True, True, False, True]
            assert results[3]["error"]["code"] == "rate_limited"
            clock.shift(1.0)
            assert all(r["ok"] for r in await api.send_batch([send(alice, conversation)] * 2))


async def test_the_window_slides(database_url: str, user: User) -> None:
    """A fixed window would let 20 through across a boundary; a sliding one does not."""
    async with serve(make_settings(database_url)) as api:
        alice = user("alice")
        conversation = await api.conversation(alice)
        with time_machine.travel(T0, tick=False) as clock:
            clock.shift(0.9)
            assert await _codes(api, alice, conversation, 10) == [201] * 10
            clock.shift(0.2)  # past the second boundary, 0.2 s after the burst
            refused = (await api.send(alice, conversation)).json()["error"]
            assert refused["retryAfterMs"] == 800


async def test_a_clock_set_back_holds_nobody_up(database_url: str, user: User) -> None:
    """Messages stamped more than a window after now (a clock set back) are not counted: the
    wait could otherwise last as long as the clock was off."""
    async with serve(make_settings(database_url)) as api:
        alice = user("alice")
        conversation = await api.conversation(alice)
        with time_machine.travel(T0, tick=False) as clock:
            clock.shift(60)
            assert await _codes(api, alice, conversation, 10) == [201] * 10
            clock.shift(-60)
            assert await _codes(api, alice, conversation, 1) == [201]


async def test_concurrent_sends_of_one_user_never_pass_the_limit(postgres_url: str, user: User) -> None:
    """Every batch counts what the sender's earlier ones committed: 30 sends at once from
    three "devices" (concurrent requests, so concurrent transactions) store exactly 10."""
    async with serve(make_settings(postgres_url)) as api:
        alice = user("alice")
        conversation = await api.conversation(alice)
        with time_machine.travel(T0, tick=False):
            batches = [[send(alice, conversation) for _ in range(10)] for _ in range(3)]
            answers = await asyncio.gather(*(api.send_batch(batch) for batch in batches))
        results = [r for batch in answers for r in batch]
        assert sum(r["ok"] for r in results) == 10
        assert sorted(r["message"]["seq"] for r in results if r["ok"]) == list(range(1, 11))
        assert {r["error"]["code"] for r in results if not r["ok"]} == {"rate_limited"}


async def test_over_the_limit_is_429_and_stores_nothing(database_url: str, user: User) -> None:
    async with serve(make_settings(database_url)) as api:
        alice = user("alice")
        conversation = await api.conversation(alice)
        with time_machine.travel(T0, tick=False):
            sent = [await api.send(alice, conversation, key=f"k{n}") for n in range(10)]
            assert [r.status_code for r in sent] == [201] * 10
            refused = await api.send(alice, conversation, key="k10")
            assert refused.status_code == 429
            assert refused.headers["Retry-After"] == "1"
            error = refused.json()["error"]
            assert error["code"] == "rate_limited" and 0 < error["retryAfterMs"] <= 1000
            # A repeat of a stored message is answered even over the limit.
            repeat = await api.send(alice, conversation, key="k3")
            assert repeat.status_code == 200 and repeat.json()["duplicate"] is True
        assert (await _last_seq(api, alice, conversation)) == 10


async def _last_seq(api: Api, user_id: str, conversation: str) -> int:
    details = await api.client.get(f"/api/conversations/{conversation}", headers=api.auth(user_id))
    last_seq: int = details.json()["lastSeq"]
    return last_seq


async def test_a_batch_counts_only_what_it_stores(database_url: str, user: User) -> None:
    """Duplicates, repeats within the batch and refusals in a batch are never stored, so
    they never count against the limit, and are answered as such even over it."""
    async with serve(make_settings(database_url)) as api:
        alice, bob = user("alice"), user("bob")
        conversation = await api.conversation(alice)
        elsewhere = await api.conversation(bob)
        with time_machine.travel(T0, tick=False):
            assert (await api.send(alice, conversation, key="stored")).status_code == 201
            first = await api.send_batch(
                [send(alice, conversation, "stored", key="stored")] * 3  # stored before: duplicates
                + [send(alice, conversation, "twice", key="twice")] * 2  # the second is a repeat
                + [
                    send(alice, elsewhere, "not-a-member", key="not-a-member"),
                    send(alice, "no-such-conversation", "gone", key="gone"),
                ]
                + [send(alice, conversation, f"new-{n}", key=f"new-{n}") for n in range(7)],
            )
            assert [r["ok"] for r in first] == [True] * 5 + [False, False] + [True] * 7
            assert [r.get("duplicate") for r in first[:5]] == [True, True, True, False, True]
            # Stored: 1 + "twice" + 7 = 9 of 10; one more fits, then the limit holds, and a
            # repeat of a stored key is still answered over it.
            second = await api.send_batch(
                [
                    send(alice, conversation, "tenth", key="tenth"),
                    send(alice, conversation, "eleventh", key="eleventh"),
                    send(alice, conversation, "new-3", key="new-3"),
                ],
            )
            assert second[0]["ok"] and second[0]["message"]["seq"] == 10
            assert second[1]["error"]["code"] == "rate_limited"
            assert second[2]["ok"] and second[2]["duplicate"] is True
        assert (await _last_seq(api, alice, conversation)) == 10
