"""No one in who does not belong (PROTOCOL §3, §4.2, §5): through every socket event and
every HTTP route, a non-member neither joins, reads, syncs, types, marks nor sends, learns
nothing of the conversation, and receives none of its events, even with a member's
``clientMessageId``.

Already proven elsewhere and not repeated here: every event refused ``forbidden`` for a
non-member whose attempt a joined member never hears (tests/gateway/test_errors.py::
test_non_members_are_forbidden_and_hear_nothing), random ids ``not_found`` on every event
(::test_unknown_conversations_are_not_found), ids that would climb out of their path
segment (::test_odd_ids_stay_in_their_path_segment), another user's key in a shared
conversation storing a new message (tests/gateway/test_events.py::
test_the_same_client_message_id_of_another_user_is_not_theirs,
tests/messages/test_messages_api.py::test_the_idempotency_key_is_scoped_by_sender).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.gateway.conftest import Stack, message_payload
from tests.security.surface import (
    ANY_ID,
    SOCKET_EVENTS,
    handled_events,
    http_routes,
    internal_routes,
    served_routes,
    socket_payload,
)

User = Callable[[str], str]


def test_the_suite_knows_every_event_and_route() -> None:
    assert set(SOCKET_EVENTS) == handled_events()
    assert {(m, p) for m, p, _ in http_routes(ANY_ID)} == served_routes("/api/")
    internal = {
        (m, p.replace("/delivered", "/{kind}").replace("/read", "/{kind}"))
        for m, p, _ in internal_routes(ANY_ID, "u")
    }
    assert internal == served_routes("/internal/")


# ---- HTTP ------------------------------------------------------------------------------


async def details(stack: Stack, user_id: str, conversation_id: str) -> dict[str, Any]:
    answer = await stack.http.get(f"/api/conversations/{conversation_id}", headers=stack.auth(user_id))
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize(
    ("target", "status", "code"),
    [
        ("foreign", 403, "forbidden"),
        ("unknown", 404, "not_found"),
        ("nul", 404, "not_found"),
        ("dots", 404, "not_found"),
    ],
)
async def test_every_http_route_refuses_a_non_member_and_changes_nothing(
    stack: Stack, user: User, target: str, status: int, code: str
) -> None:
    alice, bob, mallory = user("alice"), user("bob"), user("mallory")
    conversation = await stack.conversation(alice, bob)
    await stack.post_message(alice, conversation, "before")
    watcher = await stack.joined(bob, conversation)
    before = await details(stack, alice, conversation)
    conversation_id = {
        "foreign": conversation,
        "unknown": str(uuid.uuid4()),
        "nul": f"{conversation}%00",
        "dots": "..%2F" + conversation,
    }[target]

    for (method, template, _), (_, path, body) in zip(
        http_routes(ANY_ID), http_routes(conversation_id), strict=True
    ):
        if ANY_ID not in template:
            continue  # no conversation in this route: the listing is checked below
        answer = await stack.http.request(method, path, json=body, headers=stack.auth(mallory))
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), (method, path)
        assert "messages" not in answer.json() and "members" not in answer.json()

    assert await details(stack, alice, conversation) == before  # no message, no watermark, no member
    listed = await stack.http.get("/api/conversations", headers=stack.auth(mallory))
    assert listed.json()["conversations"] == []
    # Nothing reached the room: the next event the member hears is this one.
    marker = await stack.post_message(alice, conversation, "marker")
    assert (await watcher.next("message:new"))["message"]["id"] == marker["id"]
    assert [watcher.pending(e) for e in ("typing:start", "message:delivered", "message:read")] == [[], [], []]


# ---- socket: a non-member hears nothing, whatever the room does ------------------------


async def test_a_non_member_receives_no_event_of_the_conversation(stack: Stack, user: User) -> None:
    """Every kind of room event happens in C while mallory, refused on every event, stays
    connected. Each is awaited by a member (a positive control), then a message in mallory's
    own conversation is: her socket would have received any of C's events before it."""
    alice, bob, mallory = user("alice"), user("bob"), user("mallory")
    conversation = await stack.conversation(alice, bob)
    own = await stack.conversation(mallory)
    intruder = await stack.joined(mallory, own)
    for event in SOCKET_EVENTS:
        ack = await intruder.call(event, socket_payload(event, conversation))
        assert ack["error"]["code"] == "forbidden", (event, ack)
    alice_socket = await stack.joined(alice, conversation)

    bob_socket = await stack.joined(bob, conversation)  # user:online
    assert (await alice_socket.next("user:online"))["userId"] in (alice, bob)
    sent = await alice_socket.call("message:send", message_payload(conversation, "secret"))  # message:new
    assert (await bob_socket.next("message:new"))["message"]["id"] == sent["message"]["id"]
    await stack.post_message(alice, conversation, "secret over http")
    assert (await bob_socket.next("message:new"))["message"]["body"] == "secret over http"
    for event in ("typing:start", "typing:stop"):
        await bob_socket.call(event, {"conversationId": conversation})
        assert (await alice_socket.next(event))["userId"] == bob
    await bob_socket.call("message:read", {"conversationId": conversation, "upToSeq": 2})  # delivered + read
    assert (await alice_socket.next("message:delivered"))["userId"] == bob
    assert (await alice_socket.next("message:read"))["userId"] == bob
    await bob_socket.close()  # user:offline (grace 0)
    while (await alice_socket.next("user:offline"))["userId"] != bob:
        pass

    barrier = await stack.post_message(mallory, own, "barrier")
    assert (await intruder.next("message:new"))["message"]["id"] == barrier["id"]
    heard = {event: intruder.pending(event) for event in list(intruder.events)}
    assert all(
        item.get("conversationId", item.get("message", {}).get("conversationId")) == own
        for items in heard.values()
        for item in items
    ), heard


async def test_guessed_ids_are_not_found_and_real_ones_forbidden_on_every_event(
    stack: Stack, user: User
) -> None:
    alice, mallory = user("alice"), user("mallory")
    conversations = [await stack.conversation(alice) for _ in range(3)]
    guesses = [str(uuid.uuid4()) for _ in range(3)] + [c[:-1] + "0" for c in conversations]
    intruder = await stack.socket(mallory)

    for event in SOCKET_EVENTS:
        for conversation_id in conversations:
            assert (await intruder.call(event, socket_payload(event, conversation_id)))["error"][
                "code"
            ] == "forbidden"
        for guess in guesses:
            if guess in conversations:
                continue
            assert (await intruder.call(event, socket_payload(event, guess)))["error"]["code"] == "not_found"
    assert intruder.sio.connected


# ---- a member's clientMessageId in other hands -------------------------------------------


async def test_another_users_key_never_returns_their_message(stack: Stack, user: User) -> None:
    """Mallory replays alice's keys: into alice's conversation (forbidden, no message in the
    answer), into her own (stored as hers), over the socket (concurrently, so the gateway
    batches them), over HTTP and over the internal batch route."""
    alice, bob, mallory = user("alice"), user("bob"), user("mallory")
    conversation = await stack.conversation(alice, bob)
    own = await stack.conversation(mallory)
    sender = await stack.socket(alice)
    keys = [str(uuid.uuid4()) for _ in range(4)]
    for key in keys:
        assert (await sender.call("message:send", message_payload(conversation, "alice's secret", key)))["ok"]
    intruder = await stack.socket(mallory)

    into_theirs = await asyncio.gather(
        *(intruder.call("message:send", message_payload(conversation, "replay", key)) for key in keys)
    )
    into_own = await asyncio.gather(
        *(intruder.call("message:send", message_payload(own, "mallory's", key)) for key in keys)
    )
    over_http = [
        await stack.http.post(
            f"/api/conversations/{target}/messages",
            json={"clientMessageId": keys[0], "body": "mallory's"},
            headers=stack.auth(mallory),
        )
        for target in (conversation, own)
    ]

    assert [ack["error"]["code"] for ack in into_theirs] == ["forbidden"] * 4
    assert all("message" not in ack for ack in into_theirs)
    assert [(a["ok"], a["duplicate"], a["message"]["body"], a["message"]["senderId"]) for a in into_own] == [
        (True, False, "mallory's", mallory)
    ] * 4
    assert over_http[0].status_code == 403 and "message" not in over_http[0].json()
    assert over_http[1].status_code == 200 and over_http[1].json()["duplicate"] is True
    assert over_http[1].json()["message"]["senderId"] == mallory  # her own earlier send
    synced = await sender.call("messages:sync", {"conversationId": conversation})
    assert [(m["senderId"], m["body"]) for m in synced["messages"]] == [(alice, "alice's secret")] * 4
