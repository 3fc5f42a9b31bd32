"""Every client event of PROTOCOL §4 through a real Socket.IO connection."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from tests.gateway.conftest import Stack, both_topologies, message_payload


@both_topologies
async def test_send_acks_after_commit_and_reaches_the_room_but_not_the_sender(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob, conversation = await stack.pair(user)
    sender = await stack.joined(alice, conversation)
    other_device = await stack.joined(alice, conversation, gateway=1)
    receiver = await stack.joined(bob, conversation, gateway=1)

    ack = await sender.call("message:send", message_payload(conversation, "<b>hi</b> bob"))

    assert ack["ok"] is True and ack["duplicate"] is False
    message = ack["message"]
    assert (message["seq"], message["body"], message["senderId"]) == (1, "&lt;b&gt;hi&lt;/b&gt; bob", alice)
    assert await sender.next("message:ack") == {
        "clientMessageId": message["clientMessageId"],
        "message": message,
        "duplicate": False,
    }
    assert await receiver.next("message:new") == {"message": message}
    assert await other_device.next("message:new") == {"message": message}
    # Barrier: a later message reaches the sender through the same path, so the first
    # one would have arrived before it.
    later = await stack.post_message(bob, conversation)
    assert (await sender.next("message:new"))["message"]["id"] == later["id"]
    synced = await receiver.call("messages:sync", {"conversationId": conversation, "afterSeq": 0})
    assert [m["id"] for m in synced["messages"]] == [message["id"], later["id"]]


async def test_a_repeat_is_a_duplicate_with_a_fresh_ack_and_no_second_broadcast(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob, conversation = await stack.pair(user)
    sender = await stack.joined(alice, conversation)
    receiver = await stack.joined(bob, conversation)
    payload = message_payload(conversation)

    first = await sender.call("message:send", payload)
    again = await sender.call("message:send", payload)

    assert again["duplicate"] is True and again["message"] == first["message"]
    assert [
        ack["duplicate"] for ack in (await sender.next("message:ack"), await sender.next("message:ack"))
    ] == [
        False,
        True,
    ]
    assert (await receiver.next("message:new"))["message"]["id"] == first["message"]["id"]
    barrier = await stack.post_message(alice, conversation)
    assert (await receiver.next("message:new"))["message"]["id"] == barrier["id"]


async def test_a_message_sent_over_http_reaches_the_sockets(stack: Stack, user: Callable[[str], str]) -> None:
    alice, bob, conversation = await stack.pair(user)
    receiver = await stack.joined(bob, conversation)

    message = await stack.post_message(alice, conversation, "from the polling era")

    assert await receiver.next("message:new") == {"message": message}


async def test_an_event_without_an_ack_callback_is_still_processed(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob, conversation = await stack.pair(user)
    sender = await stack.joined(alice, conversation)
    receiver = await stack.joined(bob, conversation)

    await sender.emit("message:send", message_payload(conversation, "fire and forget"))

    assert (await receiver.next("message:new"))["message"]["body"] == "fire and forget"
    assert (await sender.next("message:ack"))["message"]["body"] == "fire and forget"


async def test_join_answers_the_snapshot_and_leave_leaves_the_room(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob, conversation = await stack.pair(user)
    await stack.post_message(bob, conversation)
    client = await stack.socket(alice)

    joined = await client.call("conversation:join", {"conversationId": conversation})

    assert joined["ok"] is True
    assert (joined["conversationId"], joined["lastSeq"]) == (conversation, 1)
    members = {m["userId"]: m for m in joined["members"]}
    assert members[alice] == {"userId": alice, "online": True, "lastDeliveredSeq": 0, "lastReadSeq": 0}
    assert members[bob]["online"] is False  # presence arrives with its own issue
    assert await client.call("conversation:leave", {"conversationId": conversation}) == {"ok": True}
    await stack.post_message(bob, conversation, "not for the departed")
    # Barrier: a message on a conversation still joined arrives after the one above would have.
    other = await stack.conversation(bob, alice)
    await client.call("conversation:join", {"conversationId": other})
    marker = await stack.post_message(bob, other)
    assert (await client.next("message:new"))["message"]["id"] == marker["id"]


@both_topologies
async def test_typing_is_relayed_to_the_room_except_the_sender_and_stopped_on_disconnect(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob, conversation = await stack.pair(user)
    typist = await stack.joined(alice, conversation)
    watcher = await stack.joined(bob, conversation, gateway=1)
    expected = {"conversationId": conversation, "userId": alice}

    assert await typist.call("typing:start", {"conversationId": conversation}) == {"ok": True}
    assert await watcher.next("typing:start") == expected
    assert await typist.call("typing:stop", {"conversationId": conversation}) == {"ok": True}
    assert await watcher.next("typing:stop") == expected

    await typist.call("typing:start", {"conversationId": conversation})
    assert await watcher.next("typing:start") == expected
    await typist.close()
    assert await watcher.next("typing:stop") == expected
    assert typist.pending("typing:start") == []


@both_topologies
async def test_receipts_move_forward_and_are_announced_to_the_room(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob, conversation = await stack.pair(user)
    sender = await stack.joined(alice, conversation)
    reader = await stack.joined(bob, conversation, gateway=1)
    for _ in range(3):
        await sender.call("message:send", message_payload(conversation))

    delivered = await reader.call("message:delivered", {"conversationId": conversation, "upToSeq": 2})
    read = await reader.call("message:read", {"conversationId": conversation, "upToSeq": 99})
    stale = await reader.call("message:read", {"conversationId": conversation, "upToSeq": 1})

    assert (delivered, read, stale) == (
        {"ok": True, "upToSeq": 2},
        {"ok": True, "upToSeq": 3},
        {"ok": True, "upToSeq": 3},
    )
    first = await sender.next("message:delivered")
    assert (first["userId"], first["upToSeq"], first["conversationId"]) == (bob, 2, conversation)
    assert first["at"].endswith("Z")
    assert (await sender.next("message:delivered"))["upToSeq"] == 3  # the read moved delivery too
    assert (await sender.next("message:read"))["upToSeq"] == 3


async def test_sync_pages_by_seq(stack: Stack, user: Callable[[str], str]) -> None:
    alice, _, conversation = await stack.pair(user)
    client = await stack.socket(alice)  # no join needed: membership is what is checked
    for _ in range(3):
        await client.call("message:send", message_payload(conversation))

    page = await client.call("messages:sync", {"conversationId": conversation, "afterSeq": 1, "limit": 1})

    assert page["ok"] is True
    assert ([m["seq"] for m in page["messages"]], page["hasMore"], page["lastSeq"]) == ([2], True, 3)


async def test_the_same_client_message_id_of_another_user_is_not_theirs(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob, conversation = await stack.pair(user)
    key = str(uuid.uuid4())
    first = await (await stack.socket(alice)).call(
        "message:send", message_payload(conversation, "alice's", key)
    )
    second = await (await stack.socket(bob)).call("message:send", message_payload(conversation, "bob's", key))

    assert second["duplicate"] is False
    assert second["message"]["id"] != first["message"]["id"]
    assert second["message"]["body"] == "bob's"
