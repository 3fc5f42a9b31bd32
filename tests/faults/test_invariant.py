"""The invariant checker itself, on made-up outcomes: it passes a clean run, and it sees
each way of losing, doubling or misreporting a message (a checker that cannot fail proves
nothing)."""

from __future__ import annotations

import dataclasses

from parley_client import LocalMessage, MessageStatus

from tests.faults.invariant import Row, Sender, Tally, tally

USERS = ("alice", "bob")
PER_USER = 3


def clean() -> tuple[list[Sender], list[Row]]:
    """Two members who each sent three messages, all acked, stored and held by both."""
    rows: list[Row] = []
    senders = {user: Sender(user, sent=[], acks={}, failures=[], held=[]) for user in USERS}
    for n in range(PER_USER):
        for user in USERS:
            seq = len(rows) + 1
            row = Row(f"id-{seq}", sender=user, client_message_id=f"{user}-{n}", seq=seq, body=f"{user} {n}")
            rows.append(row)
            senders[user].sent.append(_message(row, MessageStatus.SENT))
            senders[user].acks[row.client_message_id] = {"id": row.id, "seq": row.seq}
    for sender in senders.values():
        sender.held = [_message(row, MessageStatus.SENT) for row in rows]
    return list(senders.values()), rows


def _message(row: Row, status: MessageStatus) -> LocalMessage:
    return LocalMessage(
        conversation_id="c",
        client_message_id=row.client_message_id,
        sender_id=row.sender,
        body=row.body,
        id=row.id,
        seq=row.seq,
        status=status,
    )


def counted(senders: list[Sender], rows: list[Row]) -> Tally:
    return tally("made up", senders, rows)


def test_a_clean_run_passes() -> None:
    result = counted(*clean())
    assert (result.sent, result.acked, result.stored, result.delivered) == (6, 6, 6, 12)
    assert (result.duplicates, result.lost, result.problems) == (0, 0, [])


def test_an_acked_message_missing_from_the_database_is_lost() -> None:
    senders, rows = clean()
    gone = rows.pop()
    for sender in senders:
        sender.held = [m for m in sender.held if m.id != gone.id]
    result = counted(senders, rows)
    assert result.lost == 1
    assert any("acked" in p and "not stored" in p for p in result.problems)


def test_a_stored_message_a_member_does_not_hold_is_lost() -> None:
    senders, rows = clean()
    senders[1].held.pop(2)
    result = counted(senders, rows)
    assert result.lost == 1


def test_a_message_held_twice_is_a_duplicate() -> None:
    senders, rows = clean()
    senders[0].held.insert(1, _message(rows[0], MessageStatus.SENT))
    result = counted(senders, rows)
    assert result.duplicates == 1
    assert any("seq order" in p for p in result.problems)


def test_a_gap_or_a_phantom_in_the_database_is_seen() -> None:
    senders, rows = clean()
    rows[-1] = dataclasses.replace(rows[-1], seq=99)
    rows.append(Row(id="id-x", sender="mallory", client_message_id="m-0", seq=100, body="?"))
    problems = counted(senders, rows).problems
    assert any("without gaps" in p for p in problems)
    assert any("nobody sent it" in p for p in problems)


def test_a_senders_messages_stored_out_of_order_are_seen() -> None:
    senders, rows = clean()
    alice = senders[0]
    alice.sent[0], alice.sent[1] = alice.sent[1], alice.sent[0]
    assert any("out of the order" in p for p in counted(senders, rows).problems)


def test_a_message_retried_by_hand_may_come_later() -> None:
    senders, rows = clean()
    alice = senders[0]
    alice.sent[0], alice.sent[1] = alice.sent[1], alice.sent[0]
    alice.failures.append(alice.sent[1].client_message_id)  # failed, then the user retried it
    result = counted(senders, rows)
    assert (result.failed, result.problems) == (1, [])


def test_what_the_sender_is_shown_must_match_the_database() -> None:
    senders, rows = clean()
    alice = senders[0]
    never_stored = Row("id-x", sender="alice", client_message_id="alice-x", seq=7, body="x")
    alice.sent.append(_message(never_stored, MessageStatus.SENT))
    alice.sent[0].status = MessageStatus.FAILED  # stored, shown as failed
    alice.sent[1].status = MessageStatus.SENDING  # never settled
    problems = counted(senders, rows).problems
    assert any("shown sent but is not stored" in p for p in problems)
    assert any("shown failed but was stored" in p for p in problems)
    assert any("still sending" in p for p in problems)


def test_an_ack_that_disagrees_with_the_database_is_seen() -> None:
    senders, rows = clean()
    senders[1].acks["bob-0"] = {"id": "id-2", "seq": 5}
    assert any("acked as seq 5" in p for p in counted(senders, rows).problems)
