"""The one invariant every fault scenario ends with: nothing lost, nothing doubled.

Held against three sources that do not depend on each other: what the SDK told each app
about its sends (acked with id and seq, or failed), the database itself (read directly,
not through Parley), and what each member's SDK store holds after a final sync.

- every acked send is stored exactly once, with the id and seq its ack gave;
- the conversation's seqs are 1..N with no gap, one row per idempotency key, and every
  row is a send some member made (nothing invented);
- each sender's messages are stored in the order they were sent (but for a failed one
  the user retried by hand, which comes when retried);
- after sync, each member holds every stored message exactly once, in seq order, as stored;
- what each sender is shown agrees with the store: ``sent`` (or ``delivered``/``read``)
  only for a stored message, ``failed`` only for one that is not, nothing left ``sending``.

``lost`` counts acked sends missing from the store plus stored messages missing from a
member's store; ``duplicates`` counts second copies anywhere.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from parley_client import LocalMessage, MessageStatus

from tests.faults.workload import Chat, Member

SHOWN_AS_STORED = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ)


@dataclass(frozen=True)
class Row:
    id: str
    sender: str
    client_message_id: str
    seq: int
    body: str


@dataclass
class Tally:
    scenario: str
    members: int
    sent: int = 0
    acked: int = 0
    failed: int = 0
    stored: int = 0
    delivered: int = 0
    duplicates: int = 0
    lost: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"[{self.scenario}] sent={self.sent} acked={self.acked} failed={self.failed} "
            f"stored={self.stored} delivered={self.delivered} ({self.members} members) "
            f"duplicates={self.duplicates} lost={self.lost}"
        )

    def problem(self, text: str) -> None:
        if len(self.problems) < 20:
            self.problems.append(text)


async def stored_rows(database_url: str, conversation_id: str) -> list[Row]:
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        records = await conn.fetch(
            "SELECT id, sender_id, client_message_id, seq, body FROM messages "
            "WHERE conversation_id = $1 ORDER BY seq",
            conversation_id,
        )
    finally:
        await conn.close()
    return [Row(*record) for record in records]


@dataclass
class Sender:
    """One member as the checker sees it: what the app was told, and what the store holds."""

    user_id: str
    sent: list[LocalMessage]  # in the order the app sent them, with the status it shows now
    acks: dict[str, dict[str, Any]]  # clientMessageId → the message its ack returned
    failures: list[str]  # clientMessageIds that were reported failed
    held: list[LocalMessage]  # the member's store after sync: stored messages, in its order


def sender_of(member: Member) -> Sender:
    shown = member.conversation.messages()  # refreshes each message's status
    return Sender(
        user_id=member.user_id,
        sent=member.sent,
        acks=member.client.acks,
        failures=member.client.failures,
        held=[m for m in shown if m.id is not None],
    )


async def check(chat: Chat, *, database_url: str, scenario: str) -> Tally:
    """Count and compare; the caller prints :meth:`Tally.line` and asserts on it."""
    rows = await stored_rows(database_url, chat.conversation_id)
    return tally(scenario, [sender_of(m) for m in chat.members], rows)


def tally(scenario: str, members: list[Sender], rows: list[Row]) -> Tally:
    counts = Tally(
        scenario,
        members=len(members),
        sent=sum(len(m.sent) for m in members),
        acked=sum(len(m.acks) for m in members),
        failed=sum(len(m.failures) for m in members),
        stored=len(rows),
    )
    _check_store(counts, members, rows)
    for member in members:
        _check_acks(counts, member, rows)
        _check_order(counts, member, rows)
        _check_shown(counts, member, rows)
        _check_held(counts, member, rows)
    return counts


def _check_store(tally: Tally, members: list[Sender], rows: list[Row]) -> None:
    keys = Counter((r.sender, r.client_message_id) for r in rows)
    tally.duplicates += sum(count - 1 for count in keys.values())
    if [r.seq for r in rows] != list(range(1, len(rows) + 1)):
        tally.problem(f"stored seqs are not 1..{len(rows)} without gaps")
    made = {(m.user_id, s.client_message_id) for m in members for s in m.sent}
    for row in rows:
        if (row.sender, row.client_message_id) not in made:
            tally.problem(f"seq {row.seq} is stored but nobody sent it")


def _check_acks(tally: Tally, member: Sender, rows: list[Row]) -> None:
    mine = {r.client_message_id: r for r in rows if r.sender == member.user_id}
    for key, acked in member.acks.items():
        row = mine.get(key)
        if row is None:
            tally.lost += 1
            tally.problem(f"{member.user_id}: {key} was acked (seq {acked['seq']}) but is not stored")
        elif (row.id, row.seq) != (acked["id"], acked["seq"]):
            tally.problem(f"{member.user_id}: {key} acked as seq {acked['seq']}, stored as seq {row.seq}")


def _check_order(tally: Tally, member: Sender, rows: list[Row]) -> None:
    """A sender's messages are stored in the order sent; a message that failed and was
    retried by hand takes its place at the retry, as the user asked."""
    position = {s.client_message_id: n for n, s in enumerate(member.sent)}
    retried = set(member.failures)
    mine = [r.client_message_id for r in rows if r.sender == member.user_id]
    stored = [position[key] for key in mine if key in position and key not in retried]
    if stored != sorted(stored):
        tally.problem(f"{member.user_id}: messages stored out of the order they were sent")


def _check_shown(tally: Tally, member: Sender, rows: list[Row]) -> None:
    """What the sender's app shows for each of its sends agrees with the database."""
    stored = {r.client_message_id: r for r in rows if r.sender == member.user_id}
    for message in member.sent:
        row = stored.get(message.client_message_id)
        if message.status == MessageStatus.SENDING:
            tally.problem(f"{member.user_id}: {message.body!r} is still sending")
        elif message.status == MessageStatus.FAILED and row is not None:
            tally.problem(f"{member.user_id}: {message.body!r} is shown failed but was stored")
        elif message.status in SHOWN_AS_STORED and (row is None or row.id != message.id):
            tally.problem(f"{member.user_id}: {message.body!r} is shown {message.status} but is not stored")


def _check_held(tally: Tally, member: Sender, rows: list[Row]) -> None:
    """After sync, the member's store is the conversation: each message once, in seq order."""
    held = member.held
    tally.delivered += len(held)
    copies = Counter(m.id for m in held)
    tally.duplicates += sum(count - 1 for count in copies.values())
    seqs = [m.seq for m in held]
    if seqs != sorted(set(seqs)):  # type: ignore[type-var]
        tally.problem(f"{member.user_id}: the store is not in strictly increasing seq order")
    by_id = {m.id: m for m in held}
    row_ids = {r.id for r in rows}
    for row in rows:
        message = by_id.get(row.id)
        if message is None:
            tally.lost += 1
            tally.problem(f"{member.user_id} does not hold seq {row.seq}")
        elif (message.seq, message.body, message.client_message_id) != (
            row.seq,
            row.body,
            row.client_message_id,
        ):
            tally.problem(f"{member.user_id} holds seq {row.seq} other than stored")
    for message in held:
        if message.id not in row_ids:
            tally.problem(f"{member.user_id} holds {message.id}, which is not stored")
