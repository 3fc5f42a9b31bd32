"""The polling path (PROTOCOL §7): every ``httpPollIntervalMs``, each followed conversation
whose messages or presence go over HTTP is polled (see ``Conversation._poll``).

A switch of modes starts a round at once (a feature just moved to HTTP is not left unread
for an interval); a round that finds the server unreachable is followed by the link's backoff
rather than the interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING

from parley_client.clock import Clock, within
from parley_client.feature_switch import FeatureSwitch
from parley_client.http_link import HttpLink

if TYPE_CHECKING:
    from parley_client.conversation import Conversation

log = logging.getLogger(__name__)


class Poller:
    def __init__(
        self,
        switch: FeatureSwitch,
        link: HttpLink,
        conversations: Callable[[], list[Conversation]],
        clock: Clock,
    ) -> None:
        self._switch = switch
        self._link = link
        self._conversations = conversations
        self._clock = clock
        self.rounds = 0  # rounds made
        self._round_done = asyncio.Event()
        self._between_rounds = asyncio.Event()

    async def wait_rounds(self, rounds: int) -> None:
        """Until ``rounds`` rounds have been made in all (for tests on a fake clock)."""
        while self.rounds < rounds:
            await self._round_done.wait()

    async def wait_between_rounds(self) -> None:
        """Until no round is under way: the poller waits for the interval (for tests on a
        fake clock, to count from a round's end)."""
        await self._between_rounds.wait()

    async def run(self) -> None:
        while True:
            if not self._switch.effective.polls:
                await self._switch.changed()
                continue
            await self._link.wait_usable()
            for conversation in self._conversations():
                try:
                    await conversation._poll()
                except Exception as exc:  # the next round tries again
                    log.info("polling %s failed: %r", conversation.id, exc)
            self.rounds += 1
            self._round_done.set()
            self._round_done = asyncio.Event()
            self._between_rounds.set()
            try:
                with suppress(TimeoutError):
                    await within(self._clock, self._switch.poll_interval_s, self._switch.changed())
            finally:
                self._between_rounds.clear()
