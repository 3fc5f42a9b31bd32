"""Latency samples (milliseconds) and nearest-rank percentiles, as loadgen.mjs reports them."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from typing import Any


def rnd(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


class Samples:
    """Milliseconds in a flat ``array('d')``: no object per sample, cheap to pickle between processes."""

    __slots__ = ("values",)

    def __init__(self, values: Iterable[float] = ()) -> None:
        self.values = array("d", values)

    def push(self, value: float) -> None:
        self.values.append(value)

    def extend(self, other: Samples) -> None:
        self.values.extend(other.values)

    def __len__(self) -> int:
        return len(self.values)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.values)
        n = len(ordered)

        def rank(p: float) -> float | None:
            return rnd(ordered[max(0, math.ceil(p * n) - 1)]) if n else None

        return {"n": n, "p50": rank(0.5), "p95": rank(0.95), "p99": rank(0.99), "max": rank(1.0)}

    def __getstate__(self) -> bytes:
        return self.values.tobytes()

    def __setstate__(self, state: bytes) -> None:
        self.values = array("d")
        self.values.frombytes(state)


def merged(parts: Iterable[Samples]) -> Samples:
    out = Samples()
    for part in parts:
        out.extend(part)
    return out


def add_counts(into: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    for key, value in more.items():
        into[key] = into.get(key, 0) + value
    return into
