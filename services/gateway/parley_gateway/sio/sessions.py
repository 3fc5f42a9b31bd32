"""What the gateway remembers about each of its sockets, for as long as it is connected.

Kept in a plain dict rather than python-socketio's session store: it is read on every
event, and the store copies on each access.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(slots=True, eq=False)
class SocketState:
    sid: str
    user_id: str
    device_id: str | None
    expires_at: float
    # Conversations whose room this socket is in.
    joined: set[str] = field(default_factory=set)
    # Conversations the user was seen to be a member of. Membership only grows (the
    # contract has no way to remove a member), so a positive answer can be remembered.
    member_of: set[str] = field(default_factory=set)
    typing_in: set[str] = field(default_factory=set)
    expiry: asyncio.TimerHandle | None = None


class Sessions:
    def __init__(self) -> None:
        self._by_sid: dict[str, SocketState] = {}
        self._per_user: Counter[str] = Counter()

    def add(self, state: SocketState) -> None:
        self._by_sid[state.sid] = state
        self._per_user[state.user_id] += 1

    def get(self, sid: str) -> SocketState | None:
        return self._by_sid.get(sid)

    def pop(self, sid: str) -> SocketState | None:
        state = self._by_sid.pop(sid, None)
        if state is not None:
            self._per_user[state.user_id] -= 1
            if not self._per_user[state.user_id]:
                del self._per_user[state.user_id]
        return state

    def sids(self) -> list[str]:
        return list(self._by_sid)

    def count_of(self, user_id: str) -> int:
        """How many sockets ``user_id`` has on this gateway."""
        return self._per_user[user_id]

    def joined(self) -> Iterator[tuple[str, str, str]]:
        """(socket, user, conversation) for every conversation each socket is joined to."""
        for state in self._by_sid.values():
            for conversation_id in state.joined:
                yield state.sid, state.user_id, conversation_id

    def is_current(self, state: SocketState) -> bool:
        """False once the socket has disconnected (its state was popped)."""
        return self._by_sid.get(state.sid) is state
