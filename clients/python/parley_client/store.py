"""One conversation's messages: server messages by seq, optimistic ones after them.

Merge rules (PROTOCOL §6): a server message replaces the optimistic one with the same
``clientMessageId`` (from this user), a message already held (same ``id``) is ignored,
and order is by ``seq``. Adding in seq order is O(1); the store stays fast at 10,000+.
"""

from __future__ import annotations

import bisect
from typing import Any

from parley_client.models import LocalMessage, MessageStatus


class ConversationStore:
    def __init__(self, conversation_id: str, *, user_id: str) -> None:
        self.conversation_id = conversation_id
        self.user_id = user_id
        self._by_seq: dict[int, LocalMessage] = {}
        self._seqs: list[int] = []
        self._ids: set[str] = set()
        self._pending: dict[str, LocalMessage] = {}  # clientMessageId → optimistic, in send order
        self._contiguous = 0

    @property
    def contiguous_seq(self) -> int:
        """The highest n such that messages 1..n are all held: what to sync after."""
        return self._contiguous

    @property
    def last_seq(self) -> int:
        return self._seqs[-1] if self._seqs else 0

    def __len__(self) -> int:
        return len(self._seqs) + len(self._pending)

    def messages(self) -> list[LocalMessage]:
        """Stored messages in seq order, then the ones still being sent, in send order."""
        return [self._by_seq[s] for s in self._seqs] + list(self._pending.values())

    def pending(self, client_message_id: str) -> LocalMessage | None:
        return self._pending.get(client_message_id)

    def add_local(self, message: LocalMessage) -> None:
        self._pending[message.client_message_id] = message

    def confirm(self, client_message_id: str, wire: dict[str, Any]) -> LocalMessage:
        """The server stored our message: give the optimistic entry its id and seq."""
        message = self._pending.pop(client_message_id, None)
        if message is None:
            return self.merge(wire)
        if wire["id"] in self._ids:
            return self._by_seq[wire["seq"]]
        message.id, message.seq, message.created_at = wire["id"], wire["seq"], wire["createdAt"]
        message.body = wire["body"]  # as stored: sanitized
        message.status, message.error = MessageStatus.SENT, None
        self._insert(message)
        return message

    def merge(self, wire: dict[str, Any]) -> LocalMessage:
        """A message from the server (live or synced); returns what the store holds for it."""
        if wire["id"] in self._ids:
            return self._by_seq[wire["seq"]]
        if wire["senderId"] == self.user_id and wire["clientMessageId"] in self._pending:
            return self.confirm(wire["clientMessageId"], wire)
        message = LocalMessage.from_wire(wire)
        self._insert(message)
        return message

    def _insert(self, message: LocalMessage) -> None:
        assert message.seq is not None and message.id is not None
        if message.seq in self._by_seq:
            return  # a seq is one message: never two
        self._by_seq[message.seq] = message
        self._ids.add(message.id)
        if not self._seqs or message.seq > self._seqs[-1]:
            self._seqs.append(message.seq)
        else:
            bisect.insort(self._seqs, message.seq)
        while self._contiguous + 1 in self._by_seq:
            self._contiguous += 1
