"""The conversation store: merge by clientMessageId, dedupe by id, order by seq."""

from __future__ import annotations

import random
import uuid
from typing import Any

from parley_client.models import LocalMessage, MessageStatus
from parley_client.store import ConversationStore


def wire(seq: int, *, sender: str = "bob", key: str | None = None) -> dict[str, Any]:
    return {
        "id": f"id-{seq}",
        "conversationId": "c",
        "senderId": sender,
        "clientMessageId": key or str(uuid.uuid4()),
        "body": f"m{seq}",
        "seq": seq,
        "createdAt": "2026-11-26T09:41:07.123Z",
    }


def local(key: str) -> LocalMessage:
    return LocalMessage("c", key, "me", "hi", status=MessageStatus.SENDING)


def test_optimistic_messages_follow_stored_ones_and_are_replaced_by_the_server_copy() -> None:
    store = ConversationStore("c", user_id="me")
    store.merge(wire(1))
    mine = local("k1")
    store.add_local(mine)
    assert [m.body for m in store.messages()] == ["m1", "hi"]

    held = store.merge(wire(2, sender="me", key="k1"))  # e.g. through a sync

    assert held is mine and (mine.id, mine.seq, mine.status) == ("id-2", 2, MessageStatus.SENT)
    assert [m.seq for m in store.messages()] == [1, 2]
    assert store.pending("k1") is None


def test_duplicates_are_ignored_and_order_is_by_seq() -> None:
    store = ConversationStore("c", user_id="me")
    for seq in (3, 1, 2, 3, 1):
        store.merge(wire(seq))

    assert [m.seq for m in store.messages()] == [1, 2, 3]
    assert len(store) == 3


def test_the_sync_position_stops_at_the_first_gap() -> None:
    store = ConversationStore("c", user_id="me")
    for seq in (1, 2, 4, 5):
        store.merge(wire(seq))
    assert (store.contiguous_seq, store.last_seq) == (2, 5)

    store.merge(wire(3))

    assert store.contiguous_seq == 5


def test_another_users_same_client_message_id_is_not_mine() -> None:
    store = ConversationStore("c", user_id="me")
    store.add_local(local("shared-key"))

    store.merge(wire(1, sender="bob", key="shared-key"))

    assert store.pending("shared-key") is not None
    assert len(store) == 2


def test_ten_thousand_messages_in_any_order_come_out_whole_and_ordered() -> None:
    store = ConversationStore("c", user_id="me")
    seqs = list(range(1, 10_001))
    random.Random(3).shuffle(seqs)
    for seq in seqs:
        store.merge(wire(seq))
    for seq in seqs[:500]:
        store.merge(wire(seq))  # a second sync of the same pages

    assert [m.seq for m in store.messages()] == list(range(1, 10_001))
    assert store.contiguous_seq == 10_000
