"""PROTOCOL §4.6 over HTTP: watermarks only move forward and are announced when they do."""

from __future__ import annotations

from collections.abc import Callable

from tests.messages.conftest import Api, room_events

User = Callable[[str], str]


async def mark(
    api: Api, user_id: str, conversation: str, kind: str, up_to: object
) -> tuple[int, dict[str, object]]:
    response = await api.client.post(
        f"/api/conversations/{conversation}/{kind}", json={"upToSeq": up_to}, headers=api.auth(user_id)
    )
    return response.status_code, response.json()


async def test_watermarks_move_forward_only_and_clamp(api: Api, user: User) -> None:
    alice, bob = user("alice"), user("bob")
    conversation = await api.conversation(alice, bob)
    for _ in range(3):
        await api.send(alice, conversation)
    assert await mark(api, bob, conversation, "delivered", 2) == (200, {"upToSeq": 2})
    assert await mark(api, bob, conversation, "delivered", 1) == (200, {"upToSeq": 2})
    assert await mark(api, bob, conversation, "delivered", 99) == (200, {"upToSeq": 3})


async def test_read_moves_delivered_and_announces_both(api: Api, user: User) -> None:
    alice, bob = user("alice"), user("bob")
    conversation = await api.conversation(alice, bob)
    for _ in range(2):
        await api.send(alice, conversation)
    async with room_events(api) as events:
        assert await mark(api, bob, conversation, "read", 2) == (200, {"upToSeq": 2})
        announced = await events.rest()
    assert [e["event"] for e in announced] == ["message:delivered", "message:read"]
    for event in announced:
        assert event["conversation_id"] == conversation
        data = event["data"]
        assert (data["conversationId"], data["userId"], data["upToSeq"]) == (conversation, bob, 2)
        assert str(data["at"]).endswith("Z")
    details = (await api.client.get(f"/api/conversations/{conversation}", headers=api.auth(bob))).json()
    assert {m["userId"]: m["lastDeliveredSeq"] for m in details["members"]}[bob] == 2


async def test_a_no_op_succeeds_silently(api: Api, user: User) -> None:
    alice, bob = user("alice"), user("bob")
    conversation = await api.conversation(alice, bob)
    await api.send(alice, conversation)
    await mark(api, bob, conversation, "read", 1)
    async with room_events(api) as events:
        assert await mark(api, bob, conversation, "delivered", 1) == (200, {"upToSeq": 1})
        assert await mark(api, bob, conversation, "read", 0) == (200, {"upToSeq": 1})
        assert await events.rest() == []


async def test_receipts_of_an_empty_conversation_stay_at_zero(api: Api, user: User) -> None:
    alice = user("alice")
    conversation = await api.conversation(alice)
    assert await mark(api, alice, conversation, "read", 5) == (200, {"upToSeq": 0})


async def test_bad_receipts(api: Api, user: User) -> None:
    alice = user("alice")
    conversation = await api.conversation(alice)
    for bad in ("3", -1, 1.5, None, True):
        status, _ = await mark(api, alice, conversation, "read", bad)
        assert status == 422, bad
    status, _ = await mark(api, user("mallory"), conversation, "read", 1)
    assert status == 403
    status, _ = await mark(api, alice, "no-such-conversation", "delivered", 1)
    assert status == 404
