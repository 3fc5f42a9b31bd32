"""Benchmark: the Python SDK's conversation store at 10,000 messages.

    .venv/bin/python bench/client_store.py [messages]

Prints the median of 5 runs of: appending in seq order (live messages), merging a
shuffled copy (a re-sync of everything), and listing the messages (what a UI does on change).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from parley_client.store import ConversationStore


def wire(seq: int) -> dict[str, Any]:
    return {
        "id": f"id-{seq}",
        "conversationId": "c",
        "senderId": "bob",
        "clientMessageId": f"k-{seq}",
        "body": "x" * 80,
        "seq": seq,
        "createdAt": "2026-11-26T09:41:07.123Z",
    }


def median_ms(work: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    messages = [wire(seq) for seq in range(1, count + 1)]
    shuffled = messages[:]
    random.Random(1).shuffle(shuffled)
    full = ConversationStore("c", user_id="me")
    for m in messages:
        full.merge(m)

    def append() -> None:
        store = ConversationStore("c", user_id="me")
        for m in messages:
            store.merge(m)

    def shuffled_merge() -> None:
        store = ConversationStore("c", user_id="me")
        for m in shuffled:
            store.merge(m)

    print(f"{count} messages, median of 5 runs")
    print(f"  append in seq order: {median_ms(append):8.1f} ms total")
    print(f"  merge shuffled:      {median_ms(shuffled_merge):8.1f} ms total")
    print(f"  re-merge (all dups): {median_ms(lambda: [full.merge(m) for m in messages]):8.1f} ms total")
    print(f"  list messages:       {median_ms(full.messages):8.2f} ms per call")


if __name__ == "__main__":
    main()
