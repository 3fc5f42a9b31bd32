"""A batch's answers and room events, from what the send store found, straight into wire
dicts (a model per message, built and dumped twice, was a fifth of the service's CPU under
load)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from parley_common.errors import Forbidden, NotFound, ParleyError, RateLimited
from parley_common.room_publisher import RoomEventDict
from parley_messages.metrics import DUPLICATES
from parley_messages.send_store import Checked, StoredMessage, message_wire

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
    """Refusals and duplicates are answered from the checks; what is left, :attr:`fresh`
    (the first send of each new key), by :meth:`limited`, :meth:`stored` or :meth:`gone`.
    A later send of a key is answered as its first one was."""

    def __init__(self, sends: Sequence[Send], checked: Sequence[Checked]) -> None:
        self._sends = sends
        self._answers: list[Answer | ParleyError | None] = []
        self._repeats: dict[int, int] = {}  # a send → the first send of its key
        self.fresh: list[int] = []
        self.events: list[RoomEventDict] = []
        first_of: dict[tuple[str, str], int] = {}
        for i, (send, found) in enumerate(zip(sends, checked, strict=True)):
            self._answers.append(_refusal_or_duplicate(found))
            if self._answers[i] is None:
                key = (send.sender_id, send.client_message_id)
                if key in first_of:
                    self._repeats[i] = first_of[key]
                else:
                    first_of[key] = i
                    self.fresh.append(i)

    def limited(self, i: int, wait_ms: int) -> None:
        self._answers[i] = RateLimited(retry_after_ms=wait_ms)

    def gone(self, i: int) -> None:
        self._answers[i] = NotFound()  # the conversation was deleted meanwhile

    def stored(self, i: int, row: StoredMessage) -> None:
        message = message_wire(row)
        send = self._sends[i]
        self.events.append(
            {
                "conversation_id": send.conversation_id,
                "event": "message:new",
                "data": {"message": message},
                "skip_socket_id": send.origin_socket_id,
            }
        )
        self._answers[i] = {"message": message, "duplicate": False}

    def answers(self) -> list[Answer | ParleyError]:
        for i, first in self._repeats.items():
            answer = self._answers[first]
            if isinstance(answer, dict):
                DUPLICATES.inc()
                answer = {"message": answer["message"], "duplicate": True}
            self._answers[i] = answer
        done = [answer for answer in self._answers if answer is not None]
        assert len(done) == len(self._answers), "every fresh send must be settled"
        return done


def _refusal_or_duplicate(checked: Checked) -> Answer | ParleyError | None:
    if not checked.found:
        return NotFound()
    if not checked.is_member:
        return Forbidden()
    if checked.before is not None:
        DUPLICATES.inc()
        return {"message": message_wire(checked.before), "duplicate": True}
    return None
