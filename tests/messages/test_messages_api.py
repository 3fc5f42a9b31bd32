"""PROTOCOL §4.2, §4.7 and §5: sending and syncing messages over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from tests.messages.conftest import Api, make_settings, room_events, serve

User = Callable[[str], str]


async def test_send_stores_escaped_text_and_announces_it(api: Api, user: User) -> None:
    alice, bob = user("alice"), user("bob")
    conversation = await api.conversation(alice, bob)
    async with room_events(api) as events:
        response = await api.send(alice, conversation, body="  <i>hi</i> a < b & AT&T <3 😀\r\n")
        assert response.status_code == 201
        result = response.json()
        assert result["duplicate"] is False
        message = result["message"]
        assert message["body"] == "&lt;i&gt;hi&lt;/i&gt; a &lt; b &amp; AT&amp;T &lt;3 😀"
        assert message["seq"] == 1
        assert message["senderId"] == alice
        assert message["conversationId"] == conversation
        announced = await events.next()
    assert announced["event"] == "message:new"
    assert announced["conversation_id"] == conversation
    assert announced["data"] == {"message": message}
    assert announced["skip_socket_id"] is None


async def test_a_repeat_returns_the_stored_message_and_announces_nothing(api: Api, user: User) -> None:
    alice = user("alice")
    conversation = await api.conversation(alice)
    key = str(uuid.uuid4())
    first = await api.send(alice, conversation, body="once", key=key)
    async with room_events(api) as events:
        again = await api.send(alice, conversation, body="changed on retry", key=key)
        assert await events.rest() == []
    assert again.status_code == 200
    assert again.json() == {"message": first.json()["message"], "duplicate": True}
    history = await api.client.get(f"/api/conversations/{conversation}/messages", headers=api.auth(alice))
    assert [m["body"] for m in history.json()["messages"]] == ["once"]


async def test_the_idempotency_key_is_scoped_by_sender(api: Api, user: User) -> None:
    alice, bob = user("alice"), user("bob")
    conversation = await api.conversation(alice, bob)
    key = str(uuid.uuid4())
    mine = await api.send(alice, conversation, body="alice's", key=key)
    theirs = await api.send(bob, conversation, body="bob's", key=key)
    assert theirs.status_code == 201
    assert theirs.json()["message"]["body"] == "bob's"
    assert theirs.json()["message"]["id"] != mine.json()["message"]["id"]


async def test_non_members_cannot_send(api: Api, user: User) -> None:
    conversation = await api.conversation(user("alice"))
    refused = await api.send(user("mallory"), conversation)
    assert refused.status_code == 403
    missing = await api.send(user("mallory"), "no-such-conversation")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"clientMessageId": "k", "body": ""},
        {"clientMessageId": "k", "body": "   \n\t "},
        {"clientMessageId": "k", "body": "\x00\x7f\u3000"},
        {"clientMessageId": "k", "body": "x" * 4001},
        {"clientMessageId": "k", "body": 42},
        {"clientMessageId": "k", "body": None},
        {"clientMessageId": 7, "body": "hi"},
        {"clientMessageId": "", "body": "hi"},
        {"body": "hi"},
    ],
    ids=["empty", "blank", "only-controls", "too-long", "number", "null", "key-int", "key-empty", "no-key"],
)
async def test_bad_messages_are_422_and_store_nothing(api: Api, user: User, body: object) -> None:
    alice = user("alice")
    conversation = await api.conversation(alice)
    response = await api.client.post(
        f"/api/conversations/{conversation}/messages", json=body, headers=api.auth(alice)
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_payload"
    details = await api.client.get(f"/api/conversations/{conversation}", headers=api.auth(alice))
    assert details.json()["lastSeq"] == 0


async def test_4000_code_points_is_the_limit(api: Api, user: User) -> None:
    alice = user("alice")
    conversation = await api.conversation(alice)
    assert (await api.send(alice, conversation, body="😀" * 4000)).status_code == 201


async def test_sync_pages_by_seq(api: Api, user: User) -> None:
    alice = user("alice")
    conversation = await api.conversation(alice)
    for n in range(5):
        assert (await api.send(alice, conversation, body=f"m{n}")).status_code == 201
    url = f"/api/conversations/{conversation}/messages"
    first = (await api.client.get(url, params={"limit": 2}, headers=api.auth(alice))).json()
    assert [m["seq"] for m in first["messages"]] == [1, 2]
    assert first["hasMore"] is True and first["lastSeq"] == 5
    rest = (await api.client.get(url, params={"afterSeq": 2}, headers=api.auth(alice))).json()
    assert [m["seq"] for m in rest["messages"]] == [3, 4, 5]
    assert rest["hasMore"] is False
    everything = first["messages"] + rest["messages"]
    since = first["messages"][1]["createdAt"]
    by_time = (await api.client.get(url, params={"since": since}, headers=api.auth(alice))).json()
    # Several messages may share a millisecond: expect exactly those strictly newer.
    expected = [m["seq"] for m in everything if m["createdAt"] > since]
    assert [m["seq"] for m in by_time["messages"]] == expected
    assert 1 not in expected and 2 not in expected
    both = (await api.client.get(url, params={"afterSeq": 4, "since": since}, headers=api.auth(alice))).json()
    assert [m["seq"] for m in both["messages"]] == [5]
    clamped = (await api.client.get(url, params={"limit": 900}, headers=api.auth(alice))).json()
    assert len(clamped["messages"]) == 5


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": "x"}, {"afterSeq": -1}, {"afterSeq": "1.5"}, {"since": "yesterday"}],
    ids=["limit-0", "limit-text", "negative-seq", "fraction", "bad-since"],
)
async def test_bad_sync_queries_are_422(api: Api, user: User, params: dict[str, str | int]) -> None:
    alice = user("alice")
    conversation = await api.conversation(alice)
    response = await api.client.get(
        f"/api/conversations/{conversation}/messages", params=params, headers=api.auth(alice)
    )
    assert response.status_code == 422


async def test_sync_needs_membership(api: Api, user: User) -> None:
    conversation = await api.conversation(user("alice"))
    response = await api.client.get(
        f"/api/conversations/{conversation}/messages", headers=api.auth(user("mallory"))
    )
    assert response.status_code == 403


async def test_sync_pages_are_bounded_in_bytes_too(database_url: str, user: User) -> None:
    """SYNC_MAX_BYTES: a page of big messages ends early, with hasMore, and a client paging
    through still gets every message once (one at least per page, however big)."""
    async with serve(make_settings(database_url, sync_max_bytes=16 * 1024)) as api:
        alice = user("alice")
        conversation = await api.conversation(alice)
        for n in range(10):
            assert (await api.send(alice, conversation, body=f"{n}" + "<" * 3999)).status_code == 201
        url = f"/api/conversations/{conversation}/messages"
        seen: list[int] = []
        after, pages = 0, 0
        while True:
            page = (
                await api.client.get(url, params={"afterSeq": after, "limit": 500}, headers=api.auth(alice))
            ).json()
            pages += 1
            assert 1 <= len(page["messages"]) <= 2  # 16 KiB: one 16,000-character body, or two smaller
            seen += [m["seq"] for m in page["messages"]]
            after = seen[-1]
            if not page["hasMore"]:
                break
        assert seen == list(range(1, 11)) and pages > 1
