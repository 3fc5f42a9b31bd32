"""PROTOCOL §5: conversations over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.messages.conftest import Api

User = Callable[[str], str]


async def test_create_adds_the_caller_and_dedupes_members(api: Api, user: User) -> None:
    alice, bob = user("alice"), user("bob")
    response = await api.client.post(
        "/api/conversations", json={"memberIds": [bob, bob, alice]}, headers=api.auth(alice)
    )
    assert response.status_code == 201
    body = response.json()
    assert sorted(body["memberIds"]) == sorted([alice, bob])
    assert body["title"] is None
    assert body["lastSeq"] == 0
    assert body["createdAt"].endswith("Z") and len(body["createdAt"]) == len("2026-11-26T09:41:07.123Z")


async def test_title_is_escaped(api: Api, user: User) -> None:
    response = await api.client.post(
        "/api/conversations",
        json={"memberIds": [], "title": "<b>Team</b> <3"},
        headers=api.auth(user("alice")),
    )
    assert response.json()["title"] == "&lt;b&gt;Team&lt;/b&gt; &lt;3"


async def test_list_shows_only_the_callers_conversations(api: Api, user: User) -> None:
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    with_bob = await api.conversation(alice, bob, title="ab")
    await api.conversation(carol, title="carol alone")
    response = await api.client.get("/api/conversations", headers=api.auth(bob))
    assert response.status_code == 200
    listed = response.json()["conversations"]
    assert [c["id"] for c in listed] == [with_bob]
    assert sorted(listed[0]["memberIds"]) == sorted([alice, bob])


async def test_get_carries_members_with_watermarks(api: Api, user: User) -> None:
    alice, bob = user("alice"), user("bob")
    conversation = await api.conversation(alice, bob)
    await api.send(alice, conversation)
    await api.send(alice, conversation)
    await api.client.post(
        f"/api/conversations/{conversation}/read", json={"upToSeq": 1}, headers=api.auth(bob)
    )
    response = await api.client.get(f"/api/conversations/{conversation}", headers=api.auth(alice))
    assert response.status_code == 200
    body = response.json()
    assert body["lastSeq"] == 2
    members = {m["userId"]: m for m in body["members"]}
    assert members[bob] == {"userId": bob, "online": False, "lastDeliveredSeq": 1, "lastReadSeq": 1}
    assert members[alice]["lastReadSeq"] == 0


async def test_unknown_and_foreign_conversations(api: Api, user: User) -> None:
    conversation = await api.conversation(user("alice"))
    stranger = api.auth(user("mallory"))
    missing = await api.client.get("/api/conversations/no-such-id", headers=stranger)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    foreign = await api.client.get(f"/api/conversations/{conversation}", headers=stranger)
    assert foreign.status_code == 403
    assert foreign.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic abc"}],
    ids=["none", "garbage", "not-bearer"],
)
async def test_requests_without_a_valid_token_are_401(api: Api, headers: dict[str, str]) -> None:
    response = await api.client.get("/api/conversations", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "body",
    [
        {"memberIds": "bob"},
        {"memberIds": [1, 2]},
        {"memberIds": [""]},
        {"memberIds": [], "title": 5},
        {},
        [],
        None,
    ],
    ids=["string", "ints", "empty-id", "title-int", "missing", "array", "null"],
)
async def test_malformed_create_bodies_are_422(api: Api, user: User, body: object) -> None:
    response = await api.client.post("/api/conversations", json=body, headers=api.auth(user("alice")))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_payload"


async def test_invalid_json_is_422(api: Api, user: User) -> None:
    headers = {**api.auth(user("alice")), "Content-Type": "application/json"}
    response = await api.client.post("/api/conversations", content=b"{not json", headers=headers)
    assert response.status_code == 422


async def test_bodies_over_64_kib_are_413(api: Api, user: User) -> None:
    headers = {**api.auth(user("alice")), "Content-Type": "application/json"}
    body = b'{"memberIds": ["' + b"x" * (65 * 1024) + b'"]}'
    response = await api.client.post("/api/conversations", content=body, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "invalid_payload"


async def test_unknown_routes_use_the_error_envelope(api: Api) -> None:
    response = await api.client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
