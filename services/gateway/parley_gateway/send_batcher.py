"""Group sends: concurrent ``message:send`` events share one internal call.

Nothing waits for a batch to fill: a send goes out at once when fewer than
``MAX_IN_FLIGHT`` calls are under way; otherwise it joins the next call, which leaves as
soon as one returns. So a quiet gateway sends one message per call (no added latency) and
a busy one sends many, paying the HTTP and framework costs once per batch.

One call in flight (group commit): each call costs about five times the per-message work
in fixed costs (HTTP, framework, the database round trip), so at 1,000 msg/s four calls in
flight made batches of one or two and spent the CPU on those fixed costs; one call makes
the batches as large as the load, at the price of at most one call's time of waiting.
"""

from __future__ import annotations

import asyncio
import logging

from parley_common.errors import InternalError, ParleyError, Unavailable
from parley_gateway.messages_client import Answer, MessagesClient

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 1
MAX_BATCH = 200

Waiting = tuple[Answer, asyncio.Future[Answer]]


class SendBatcher:
    def __init__(self, messages: MessagesClient) -> None:
        self._messages = messages
        self._waiting: list[Waiting] = []
        self._calls: set[asyncio.Task[None]] = set()  # in flight (held: the loop keeps weak refs)

    async def send(self, body: Answer) -> Answer:
        """Store one message (raises the service's refusal as a :class:`ParleyError`)."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append((body, future))
        if len(self._calls) < MAX_IN_FLIGHT:
            self._start_call()
        return await future

    def _start_call(self) -> None:
        batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
        task = asyncio.ensure_future(self._call(batch))
        self._calls.add(task)
        task.add_done_callback(self._call_done)

    def _call_done(self, task: asyncio.Task[None]) -> None:
        self._calls.discard(task)
        if self._waiting:
            self._start_call()

    async def _call(self, batch: list[Waiting]) -> None:
        try:
            results = await self._messages.send_batch([body for body, _ in batch])
            if len(results) != len(batch):
                raise InternalError("the messages service answered a batch with the wrong count")
        except ParleyError as exc:
            _fail(batch, exc)
            return
        except Exception:
            log.exception("a batch of %d sends failed", len(batch))
            _fail(batch, InternalError())
            return
        except BaseException:
            _fail(batch, Unavailable())  # cancelled (shutdown): nobody is left waiting
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if result.get("ok") is True:
                future.set_result({k: v for k, v in result.items() if k != "ok"})
            else:
                future.set_exception(ParleyError.from_error(result.get("error") or {}))


def _fail(batch: list[Waiting], error: ParleyError) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
