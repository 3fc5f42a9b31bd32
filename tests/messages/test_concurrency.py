"""Gap-free seqs and idempotency under real concurrency, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from tests.messages.conftest import make_settings, serve

User = Callable[[str], str]


async def test_100_concurrent_sends_get_seqs_1_to_100(postgres_url: str, user: User) -> None:
    async with serve(make_settings(postgres_url)) as api:
        senders = [user(f"member{n}") for n in range(100)]
        conversation = await api.conversation(senders[0], *senders[1:])
        # One send per member, all at once: each request runs on its own pooled connection.
        responses = await asyncio.gather(*(api.send(sender, conversation) for sender in senders))
        assert [r.status_code for r in responses] == [201] * 100
        assert sorted(r.json()["message"]["seq"] for r in responses) == list(range(1, 101))
        stored = await api.client.get(
            f"/api/conversations/{conversation}/messages", params={"limit": 500}, headers=api.auth(senders[0])
        )
        assert [m["seq"] for m in stored.json()["messages"]] == list(range(1, 101))
        assert stored.json()["lastSeq"] == 100


async def test_20_concurrent_repeats_store_one_message(postgres_url: str, user: User) -> None:
    async with serve(make_settings(postgres_url)) as api:
        alice = user("alice")
        conversation = await api.conversation(alice)
        key = str(uuid.uuid4())
        responses = await asyncio.gather(
            *(api.send(alice, conversation, body="once", key=key) for _ in range(20))
        )
        assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
        assert len({r.json()["message"]["id"] for r in responses}) == 1
        assert [r.json()["duplicate"] for r in responses].count(False) == 1
        # No seq was burnt by the losers: the next message is seq 2.
        after = await api.send(alice, conversation, body="next")
        assert after.json()["message"]["seq"] == 2
        stored = await api.client.get(f"/api/conversations/{conversation}/messages", headers=api.auth(alice))
        assert [m["body"] for m in stored.json()["messages"]] == ["once", "next"]
