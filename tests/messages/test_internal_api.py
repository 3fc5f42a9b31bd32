"""The gateway's internal API: guarded by INTERNAL_TOKEN, same rules as the public one."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from tests.messages.conftest import Api, room_events

User = Callable[[str], str]


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["missing", "wrong"])
async def test_requires_the_internal_token(api: Api, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await api.client.post(
        "/internal/v1/conversations/x/access", json={"userId": "u"}, headers=headers
    )
    assert response.status_code == 401


async def test_user_tokens_do_not_open_the_internal_api(api: Api, user: User) -> None:
    response = await api.client.post(
        "/internal/v1/conversations/x/access", json={"userId": "u"}, headers=api.auth(user("alice"))
    )
    assert response.status_code == 401


async def test_send_skips_the_origin_socket(api: Api, user: User) -> None:
    alice, bob = user("alice"), user("bob")
    conversation = await api.conversation(alice, bob)
    body = {
        "userId": alice,
        "conversationId": conversation,
        "clientMessageId": str(uuid.uuid4()),
        "body": "via gateway",
        "originSocketId": "sid-123",
    }
    async with room_events(api) as events:
        response = await api.client.post("/internal/v1/messages", json=body, headers=api.internal())
        announced = await events.next()
    assert response.status_code == 200
    assert response.json()["duplicate"] is False
    assert announced["skip_socket_id"] == "sid-123"
    assert announced["data"]["message"] == response.json()["message"]


async def test_join_returns_members_and_last_seq(api: Api, user: User) -> None:
    alice, bob = user("alice"), user("bob")
    conversation = await api.conversation(alice, bob)
    await api.send(alice, conversation)
    response = await api.client.post(
        f"/internal/v1/conversations/{conversation}/join", json={"userId": bob}, headers=api.internal()
    )
    assert response.status_code == 200
    snapshot = response.json()
    assert snapshot["conversationId"] == conversation
    assert snapshot["lastSeq"] == 1
    assert {m["userId"] for m in snapshot["members"]} == {alice, bob}
    refused = await api.client.post(
        f"/internal/v1/conversations/{conversation}/join",
        json={"userId": user("mallory")},
        headers=api.internal(),
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"


async def test_sync_and_receipts(api: Api, user: User) -> None:
    alice, bob = user("alice"), user("bob")
    conversation = await api.conversation(alice, bob)
    for _ in range(3):
        await api.send(alice, conversation)
    base = f"/internal/v1/conversations/{conversation}"
    synced = await api.client.post(
        f"{base}/sync", json={"userId": bob, "afterSeq": 1}, headers=api.internal()
    )
    assert [m["seq"] for m in synced.json()["messages"]] == [2, 3]
    bad = await api.client.post(f"{base}/sync", json={"userId": bob, "afterSeq": "1"}, headers=api.internal())
    assert bad.status_code == 422
    read = await api.client.post(f"{base}/read", json={"userId": bob, "upToSeq": 2}, headers=api.internal())
    assert read.json() == {"upToSeq": 2}
    unknown = await api.client.post(
        f"{base}/seen", json={"userId": bob, "upToSeq": 2}, headers=api.internal()
    )
    assert unknown.status_code == 422
