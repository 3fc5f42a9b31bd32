"""Which typing events are relayed to the room: coalesced per user and conversation.

Policy: a ``typing:start`` is relayed when the user was not typing in that conversation,
or when the last one relayed is at least ``TYPING_RELAY_INTERVAL_MS`` old (clients repeat
it every 3 s while keystrokes go on, and indicators hide after 6 s of silence, PROTOCOL §6);
one in between says nothing new and is answered without a relay. A ``typing:stop`` is
relayed only after a relayed start. So a member who sends typing events as fast as the rate
limit allows still costs the room at most one relay per interval. The state is this
gateway's: a user typing from two gateways at once may be relayed once from each.
"""

from __future__ import annotations

import time
from collections.abc import Callable

_PRUNE_EVERY_S = 60.0
# A start older than this is forgotten (its indicator is long gone on every screen).
_FORGET_AFTER_S = 60.0


class TypingRelay:
    def __init__(self, *, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._started: dict[tuple[str, str], float] = {}  # (user, conversation) -> last relayed start
        self._pruned_at = clock()

    def start(self, user_id: str, conversation_id: str) -> bool:
        """True when this ``typing:start`` is to be relayed."""
        now = self._clock()
        if now - self._pruned_at >= _PRUNE_EVERY_S:
            self._prune(now)
        last = self._started.get((user_id, conversation_id))
        if last is not None and now - last < self._interval_s:
            return False
        self._started[(user_id, conversation_id)] = now
        return True

    def stop(self, user_id: str, conversation_id: str) -> bool:
        """True when this ``typing:stop`` is to be relayed (a start was)."""
        return self._started.pop((user_id, conversation_id), None) is not None

    def _prune(self, now: float) -> None:
        self._pruned_at = now
        for key in [k for k, at in self._started.items() if now - at >= _FORGET_AFTER_S]:
            del self._started[key]
