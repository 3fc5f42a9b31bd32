"""PROTOCOL §4.2 rate limit: 10 sends per sliding second per user, nothing stored over it.

The clock is frozen and moved by hand (time-machine), for both the in-memory limiter of
the embedded default and the Redis one shared by every process.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
import time_machine

from parley_common.ratelimit import SendRateLimiter
from tests.messages.conftest import Api, make_settings, serve
from tests.messages.test_batch_send import send

User = Callable[[str], str]
T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[SendRateLimiter]:
    if request.param == "memory":
        yield SendRateLimiter.in_memory()
        return
    url: str = request.getfixturevalue("redis_url")
    client = aioredis.Redis.from_url(url)
    try:
        yield SendRateLimiter.redis(client, prefix=redis_prefix)
    finally:
        keys = [key async for key in client.scan_iter(f"{redis_prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_ten_per_second_then_retry_after(limiter: SendRateLimiter) -> None:
    user_id = f"u-{uuid.uuid4().hex}"
    with time_machine.travel(T0, tick=False) as clock:
        assert [await limiter.acquire(user_id) for _ in range(10)] == [0] * 10
        retry = await limiter.acquire(user_id)
        assert 0 < retry <= 1000
        clock.shift(0.999)
        assert await limiter.acquire(user_id) > 0
        clock.shift(0.002)
        assert await limiter.acquire(user_id) == 0
    assert await limiter.acquire(f"other-{user_id}") == 0


async def test_a_batch_of_hits_counts_each_send_in_order(limiter: SendRateLimiter) -> None:
    """admit (one script call on Redis) admits exactly what acquire one by one would."""
    alice, bob = f"a-{uuid.uuid4().hex}", f"b-{uuid.uuid4().hex}"
    with time_machine.travel(T0, tick=False) as clock:
        assert (await limiter.admit([alice] * 8)).waits == [0] * 8
        waits = (await limiter.admit([alice, bob, alice, alice, bob])).waits
        assert waits[:3] == [0, 0, 0]  # alice's 9th and 10th, bob's first
        assert 0 < waits[3] <= 1000 and waits[4] == 0
        clock.shift(1.001)
        assert (await limiter.admit([alice, alice])).waits == [0, 0]


async def test_a_store_outage_lets_sends_through() -> None:
    """Fail open: no Redis behind the limiter admits every send instead of refusing all."""
    client = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        limiter = SendRateLimiter.redis(client, prefix=f"gone-{uuid.uuid4().hex}")
        assert (await limiter.admit(["a", "b", "a"])).waits == [0, 0, 0]
        assert await limiter.acquire("a") == 0
    finally:
        await client.aclose()


async def test_the_window_slides(limiter: SendRateLimiter) -> None:
    """A fixed window would let 20 through across a boundary; a sliding one does not."""
    user_id = f"u-{uuid.uuid4().hex}"
    with time_machine.travel(T0, tick=False) as clock:
        clock.shift(0.9)
        assert [await limiter.acquire(user_id) for _ in range(10)] == [0] * 10
        clock.shift(0.2)  # past the second boundary, 0.2 s after the burst
        retry = await limiter.acquire(user_id)
        assert 700 <= retry <= 801  # 0.8 s, rounded up


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


async def test_a_slot_handed_back_is_free_again(limiter: SendRateLimiter) -> None:
    """What the batch path does for a send admitted but not stored (a duplicate, a refusal)."""
    alice = f"a-{uuid.uuid4().hex}"
    with time_machine.travel(T0, tick=False):
        admission = await limiter.admit([alice] * 12)
        assert admission.waits[:10] == [0] * 10 and all(admission.waits[10:])
        await limiter.give_back([alice, alice], admission)
        waits = (await limiter.admit([alice] * 3)).waits
        assert waits[:2] == [0, 0] and waits[2] > 0  # the two handed back, and no more
        assert await limiter.acquire(alice) > 0


async def test_a_batch_counts_only_what_it_stores(database_url: str, user: User) -> None:
    """Duplicates, repeats within the batch and refusals in a batch hand their slot back:
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
