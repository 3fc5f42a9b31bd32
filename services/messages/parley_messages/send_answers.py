"""A batch's answers and room events, from what the send store found, straight into wire
dicts (a model per message, built and dumped twice, was a fifth of the service's CPU under
load)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from parley_common.errors import Forbidden, NotFound, ParleyError, RateLimited
from parley_common.room_publisher import RoomEventDict
from parley_messages.metrics import DUPLICATES
from parley_messages.send_store import NewMessage, Outcome, StoredMessage, message_wire

Answer = dict[str, Any]  # an ack body: {"message", "duplicate"}, wire keys


class Send(NamedTuple):
    """One send, as the service takes it: the sender already authenticated, the body
    already sanitized (PROTOCOL §4.2)."""

    sender_id: str
    conversation_id: str
    client_message_id: str
    body: str
    # The socket that sent it: it gets message:ack, not message:new.
    origin_socket_id: str | None = None


class BatchAnswers:
    """Each send's answer from its outcome; a later send of a key is answered as its first
    one was. The room events of what was stored, in batch order, in :attr:`events`."""

    def __init__(
        self,
        sends: Sequence[Send],
        new: Sequence[NewMessage],
        outcomes: Sequence[Outcome],
        created_at: datetime,
    ) -> None:
        self.events: list[RoomEventDict] = []
        self.rate_limited = 0
        self._answers: list[Answer | ParleyError] = []
        first_of: dict[tuple[str, str], int] = {}
        for i, (send, outcome) in enumerate(zip(sends, outcomes, strict=True)):
            answer = _refusal_or_duplicate(outcome)
            if answer is None:
                key = (send.sender_id, send.client_message_id)
                if key in first_of:
                    answer = _as_repeat(self._answers[first_of[key]])
                else:
                    first_of[key] = i
                    answer = self._settled(send, new[i], outcome, created_at)
            self._answers.append(answer)

    def _settled(
        self, send: Send, new: NewMessage, outcome: Outcome, created_at: datetime
    ) -> Answer | ParleyError:
        if outcome.seq is None:
            if outcome.wait_ms is None:
                return NotFound()  # the conversation was deleted meanwhile
            self.rate_limited += 1
            return RateLimited(retry_after_ms=outcome.wait_ms)
        message = message_wire(StoredMessage(*new, True, outcome.seq, created_at))
        self.events.append(
            {
                "conversation_id": send.conversation_id,
                "event": "message:new",
                "data": {"message": message},
                "skip_socket_id": send.origin_socket_id,
            }
        )
        return {"message": message, "duplicate": False}

    def answers(self) -> list[Answer | ParleyError]:
        return self._answers


def _as_repeat(first: Answer | ParleyError) -> Answer | ParleyError:
    if isinstance(first, dict):
        DUPLICATES.inc()
        return {"message": first["message"], "duplicate": True}
    return first


def _refusal_or_duplicate(outcome: Outcome) -> Answer | ParleyError | None:
    if not outcome.found:
        return NotFound()
    if not outcome.is_member:
        return Forbidden()
    if outcome.before is not None:
        DUPLICATES.inc()
        return {"message": message_wire(outcome.before), "duplicate": True}
    return None
