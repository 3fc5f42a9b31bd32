"""Progress lines on stderr (stdout carries the one JSON result)."""

from __future__ import annotations

import sys
import time


def log(*parts: object) -> None:
    sys.stderr.write(f"[parley_bench {time.strftime('%H:%M:%S')}] {' '.join(str(p) for p in parts)}\n")
    sys.stderr.flush()
