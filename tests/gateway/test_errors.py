"""Every refusal of PROTOCOL §3, for every client event: the ack envelope, never a crash."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.gateway.conftest import Stack, message_payload
from tests.support.sockets import NOTHING

EVENTS = [
    "message:send",
    "conversation:join",
    "conversation:leave",
    "typing:start",
    "typing:stop",
    "message:delivered",
    "message:read",
    "messages:sync",
]


def valid(event: str, conversation_id: str) -> dict[str, Any]:
    if event == "message:send":
        return message_payload(conversation_id)
    if event in ("message:delivered", "message:read"):
        return {"conversationId": conversation_id, "upToSeq": 1}
    return {"conversationId": conversation_id}


NOT_OBJECTS: list[Any] = [NOTHING, None, [], "text", 7, {}, {"conversationId": None}, {"conversationId": 5}]
BAD_PAYLOADS: list[tuple[str, Any]] = [(event, payload) for event in EVENTS for payload in NOT_OBJECTS] + [
    ("message:send", {"conversationId": "c", "clientMessageId": "k"}),
    ("message:send", {"conversationId": "c", "clientMessageId": 5, "body": "x"}),
    ("message:send", {"conversationId": "c", "clientMessageId": "k", "body": None}),
    ("message:send", {"conversationId": "c", "clientMessageId": "k", "body": "x" * 4001}),
    ("message:delivered", {"conversationId": "c", "upToSeq": "3"}),
    ("message:read", {"conversationId": "c", "upToSeq": -1}),
    ("message:read", {"conversationId": "c", "upToSeq": 1.5}),
    ("message:read", {"conversationId": "c"}),
    ("messages:sync", {"conversationId": "c", "limit": 0}),
    ("messages:sync", {"conversationId": "c", "limit": "10"}),
    ("messages:sync", {"conversationId": "c", "afterSeq": "1"}),
    ("messages:sync", {"conversationId": "c", "since": "yesterday"}),
]


@pytest.mark.parametrize(("event", "payload"), BAD_PAYLOADS)
async def test_bad_payloads_are_invalid_payload(stack: Stack, event: str, payload: Any) -> None:
    client = await stack.socket(f"user-{uuid.uuid4().hex[:8]}")

    ack = await client.call(event, payload)

    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid_payload"
    assert ack["error"]["message"]


async def test_a_body_empty_after_normalizing_is_invalid(stack: Stack, user: Callable[[str], str]) -> None:
    alice = user("alice")
    conversation = await stack.conversation(alice)
    client = await stack.socket(alice)

    ack = await client.call("message:send", message_payload(conversation, " \x00\r\n\u3000 "))

    assert ack["error"]["code"] == "invalid_payload"


@pytest.mark.parametrize("event", EVENTS)
async def test_unknown_conversations_are_not_found(stack: Stack, event: str) -> None:
    client = await stack.socket(f"user-{uuid.uuid4().hex[:8]}")

    ack = await client.call(event, valid(event, str(uuid.uuid4())))

    assert ack["error"]["code"] == "not_found"


@pytest.mark.parametrize("event", EVENTS)
async def test_non_members_are_forbidden_and_hear_nothing(
    stack: Stack, user: Callable[[str], str], event: str
) -> None:
    alice, bob, eve = user("alice"), user("bob"), user("eve")
    conversation = await stack.conversation(alice, bob)
    member = await stack.joined(bob, conversation)
    intruder = await stack.socket(eve)

    ack = await intruder.call(event, valid(event, conversation))

    assert ack["error"]["code"] == "forbidden"
    # Nothing the intruder tried reached the room: the next event the member gets is this one.
    marker = await stack.post_message(alice, conversation)
    assert (await member.next("message:new"))["message"]["id"] == marker["id"]
    assert member.pending("typing:start") == member.pending("typing:stop") == []
    assert intruder.pending("message:new") == []


@pytest.mark.parametrize(
    "conversation_id", ["../messages", "..", "a/b", "x?userId=alice", "%2e%2e", "é" * 50, " "]
)
async def test_odd_ids_stay_in_their_path_segment(stack: Stack, conversation_id: str) -> None:
    client = await stack.socket(f"user-{uuid.uuid4().hex[:8]}")

    for event in EVENTS:
        ack = await client.call(event, valid(event, conversation_id))
        assert ack["error"]["code"] == "not_found", (event, ack)


async def test_unknown_events_are_answered(stack: Stack) -> None:
    client = await stack.socket("someone")

    ack = await client.call("message:delete", {"id": "x"})

    assert ack == {
        "ok": False,
        "error": {"code": "invalid_payload", "message": "unknown event 'message:delete'"},
    }


async def test_the_socket_survives_every_refusal(stack: Stack, user: Callable[[str], str]) -> None:
    alice = user("alice")
    conversation = await stack.conversation(alice)
    client = await stack.socket(alice)
    for event, payload in BAD_PAYLOADS[:20]:
        await client.call(event, payload)

    ack = await client.call("message:send", message_payload(conversation, "still here"))

    assert ack["ok"] is True
    assert client.sio.connected


async def test_odd_event_names_are_answered_and_survived(stack: Stack) -> None:
    client = await stack.socket("someone")

    long_name = await client.call("x" * 5000, {})
    listed = await client.sio.call(["not", "a", "name"], {}, timeout=5)

    assert long_name["error"]["code"] == listed["error"]["code"] == "invalid_payload"
    assert len(long_name["error"]["message"]) < 200
    assert (await client.call("nope", {}))["error"]["code"] == "invalid_payload"
