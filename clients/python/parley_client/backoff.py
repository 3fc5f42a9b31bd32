"""The timing rules of PROTOCOL §6 and REQUIREMENTS 2.3, 2.6 in one place."""

from __future__ import annotations

import random

ACK_TIMEOUT_S = 5.0
SEND_RETRY_DELAYS_S = (1.0, 2.0, 4.0)  # after the 1st, 2nd and 3rd unanswered attempt
RECONNECT_BASE_S = 1.0
RECONNECT_MAX_S = 30.0
JITTER = 0.5  # ±50%
TYPING_IDLE_S = 2.0  # typing:stop after this long without a keystroke
TYPING_REFRESH_S = 3.0  # typing:start again this often while keystrokes go on (others expire it after 6 s)
REMOTE_TYPING_TTL_S = 6.0  # hide someone's indicator after this long without news
POSITION_CHECK_S = 30.0  # re-sync this often even when nothing seems missing


def reconnect_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Delay before reconnect attempt ``attempt`` (0-based): 1, 2, 4, 8 … 30 s, ±50% jitter."""
    base = min(RECONNECT_MAX_S, RECONNECT_BASE_S * 2**attempt)
    if rng is None:
        return base
    return min(RECONNECT_MAX_S, base * (1 + rng.uniform(-JITTER, JITTER)))
