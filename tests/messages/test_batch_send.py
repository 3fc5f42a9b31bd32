"""POST /internal/v1/messages/batch: per-send answers as if sent one by one, seqs gap-free."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from tests.messages.conftest import Api


def send(user: str, conversation: str, body: str = "hi", key: str | None = None) -> dict[str, Any]:
    return {
        "userId": user,
        "conversationId": conversation,
        "clientMessageId": key or str(uuid.uuid4()),
        "body": body,
    }


async def test_each_send_is_answered_as_if_alone(api: Api, user: Callable[[str], str]) -> None:
    alice, bob, eve = user("alice"), user("bob"), user("eve")
    first = await api.conversation(alice, bob)
    second = await api.conversation(bob, alice)
    earlier = (await api.send(alice, first, "earlier")).json()["message"]
    repeated = str(uuid.uuid4())

    results = await api.send_batch(
        [
            send(alice, first, "one"),
            send(bob, second, "two"),
            send(alice, first, "again", key=earlier["clientMessageId"]),  # stored before
            send(bob, first, "three", key=repeated),
            send(bob, first, "three again", key=repeated),  # repeated within the batch
            send(eve, first, "intruder"),
            send(alice, str(uuid.uuid4()), "nowhere"),
            send(alice, first, " \x00 "),  # empty once normalized
        ],
    )

    assert [r["ok"] for r in results] == [True, True, True, True, True, False, False, False]
    assert [r.get("duplicate") for r in results[:5]] == [False, False, True, False, True]
    assert results[2]["message"] == earlier
    assert results[4]["message"] == results[3]["message"]
    assert [r["error"]["code"] for r in results[5:]] == ["forbidden", "not_found", "invalid_payload"]
    assert [results[0]["message"]["seq"], results[3]["message"]["seq"]] == [2, 3]
    assert results[1]["message"]["seq"] == 1


async def test_concurrent_batches_keep_seqs_gap_free_and_keys_unique(
    api: Api, user: Callable[[str], str]
) -> None:
    # Eight members each retry one message in six concurrent batches (so their retries race),
    # and every batch also carries two new messages. Nobody goes over 10 sends a second.
    members = [user(f"member{n}") for n in range(8)]
    alice = user("alice")
    conversation = await api.conversation(alice, *members)
    keys = {member: str(uuid.uuid4()) for member in members}
    batches = [
        [send(member, conversation, "retried", key=keys[member]) for member in members]
        + [send(alice, conversation, f"new {i}-{n}") for n in range(1)]
        for i in range(6)
    ]

    answers = await asyncio.gather(*(api.send_batch(b) for b in batches))

    results = [r for batch_results in answers for r in batch_results]
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]]
    stored = [r["message"] for r in results if not r["duplicate"]]
    assert sorted(m["seq"] for m in stored) == list(range(1, len(stored) + 1))  # gap-free
    retried = sorted(m["senderId"] for m in stored if m["body"] == "retried")
    assert retried == sorted(members)  # each raced key stored exactly once
    stored_ids = {m["id"] for m in stored}
    assert all(r["message"]["id"] in stored_ids for r in results if r["duplicate"])
    assert len(stored) == 8 + 6


async def test_the_rate_limit_applies_within_a_batch(api: Api, user: Callable[[str], str]) -> None:
    alice = user("alice")
    conversation = await api.conversation(alice)

    results = await api.send_batch([send(alice, conversation, f"m{n}") for n in range(15)])

    assert sum(r["ok"] for r in results) == 10
    limited = [r["error"] for r in results if not r["ok"]]
    assert len(limited) == 5 and all(e["code"] == "rate_limited" and e["retryAfterMs"] > 0 for e in limited)
    assert sorted(r["message"]["seq"] for r in results if r["ok"]) == list(range(1, 11))


async def test_a_batch_needs_the_internal_token(api: Api) -> None:
    answer = await api.client.post("/internal/v1/messages/batch", json={"sends": [send("a", "c")]})
    assert answer.status_code == 401
