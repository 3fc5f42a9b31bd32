"""Delivering the outbox: one message at a time, in order (PROTOCOL §6, REQUIREMENTS 2.3).

Each attempt waits 5 s for the ack. An attempt that got no answer is repeated after 1 s,
2 s, 4 s with the same ``clientMessageId``; after the 4th the message is ``failed``.
Time spent disconnected does not count: the message waits, queued, for the connection.
``rate_limited`` waits ``retryAfterMs`` and does not count either; ``unavailable`` and
``internal`` count like a lost ack; ``forbidden``, ``not_found`` and ``invalid_payload``
fail at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from parley_client.backoff import ACK_TIMEOUT_S, SEND_RETRY_DELAYS_S
from parley_client.clock import Clock, within
from parley_client.errors import ParleyError, RateLimited, Unavailable, error_from_ack
from parley_client.outbox import Outbox, OutboxItem

log = logging.getLogger(__name__)


class NotConnected(Exception):
    """The connection went away before the answer came."""


class Socket(Protocol):
    @property
    def connected(self) -> bool: ...

    async def wait_connected(self) -> None: ...

    async def call(self, event: str, payload: dict[str, Any]) -> Any:
        """Emit with an ack; raises :class:`NotConnected` if the link drops first."""
        ...


Outcome = dict[str, Any] | ParleyError
OnOutcome = Callable[[OutboxItem, Outcome], None]
OnAttempt = Callable[[OutboxItem, int], None]


class Sender:
    def __init__(self, outbox: Outbox, socket: Socket, clock: Clock, on_outcome: OnOutcome) -> None:
        self._outbox = outbox
        self._socket = socket
        self._clock = clock
        self._on_outcome = on_outcome

    async def run(self) -> None:
        while True:
            item = await self._outbox.next()
            try:
                outcome = await self.deliver(item)
            except Exception as exc:  # a bug must not stop the queue behind it
                log.exception("sending %s failed unexpectedly", item.client_message_id)
                outcome = ParleyError(str(exc))
            await self._outbox.remove(item.client_message_id)
            self._on_outcome(item, outcome)

    async def deliver(self, item: OutboxItem) -> Outcome:
        payload = {
            "conversationId": item.conversation_id,
            "clientMessageId": item.client_message_id,
            "body": item.body,
        }
        unanswered = 0
        while True:
            await self._socket.wait_connected()
            try:
                ack = await within(self._clock, ACK_TIMEOUT_S, self._socket.call("message:send", payload))
            except NotConnected:
                continue  # the link failed, not the server: wait for it, uncounted
            except TimeoutError:
                ack = None
            if isinstance(ack, dict) and ack.get("ok") is True:
                return ack
            error = error_from_ack(ack) if ack is not None else Unavailable("no answer in 5 s")
            if isinstance(error, RateLimited):
                await self._clock.sleep((error.retry_after_ms or 1000) / 1000)
                continue
            if not error.retryable:
                return error
            unanswered += 1
            if unanswered > len(SEND_RETRY_DELAYS_S):
                return error
            await self._clock.sleep(SEND_RETRY_DELAYS_S[unanswered - 1])
