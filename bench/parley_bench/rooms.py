"""Set-up shared by chat and fanout: conversations created over HTTP, then one socket per member,
connected and joined, spread over the workers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from .api import create_conversation, each_limited
from .log import log
from .options import Options
from .pool import Worker, call_all
from .stats import add_counts
from .tokens import mint

UserRow = tuple[str, str, str, int]  # id, conversation id, socket URL, global index


@dataclass
class Rooms:
    rows: list[list[UserRow]]  # each worker's users
    setup: dict[str, Any]  # how long it took, and the joins that had to be retried


async def setup_rooms(
    opt: Options,
    workers: list[Worker],
    conversations: int,
    members: int,
    prefix: str,
    worker_of: Callable[[int, int], int],
    on_ready: str,
) -> Rooms:
    """Places each user with ``worker_of(conversation, member)``."""
    t0 = time.perf_counter()
    rows: list[list[UserRow]] = [[] for _ in workers]
    async with aiohttp.ClientSession() as session:

        async def create(c: int) -> None:
            ids = [f"{prefix}-{c}-{m}" for m in range(members)]
            token = mint(ids[0], opt.secret, opt.token_ttl, opt.iss, opt.aud)
            conv = await create_conversation(session, opt.urls[0], token, ids[1:], f"bench {prefix} {c}")
            for m, user_id in enumerate(ids):
                idx = c * members + m
                rows[worker_of(c, m)].append((user_id, conv, opt.urls[idx % len(opt.urls)], idx))

        await each_limited(range(conversations), 16, create)
    log(f"created {conversations} conversations in {(time.perf_counter() - t0) * 1000:.0f} ms")
    inflight = max(1, opt.max_inflight // len(workers))
    parts = await call_all(
        workers, "rooms.join", [{"users": r} for r in rows], inflight=inflight, on_ready=on_ready
    )
    failures: dict[str, int] = {}
    for part in parts:
        add_counts(failures, part)
    retries = {k: v for k, v in failures.items() if k.startswith("retry:")}
    failures = {k: v for k, v in failures.items() if k not in retries}
    total = conversations * members
    failed = sum(failures.values())
    took = time.perf_counter() - t0
    log(f"connected+joined {total - failed}/{total} sockets in {took:.1f} s", failures or "", retries or "")
    if failed:
        raise RuntimeError(f"setup failed: {failures} (after retries: {retries})")
    # Each join announces user:online to the room (M^2/2 events for one room of M): wait until they stop.
    last, deadline = -1, time.perf_counter() + 60
    while time.perf_counter() < deadline:
        seen = sum(await call_all(workers, "rooms.presence"))
        if seen == last:
            break
        last = seen
        await asyncio.sleep(opt.settle)
    log(f"presence events drained ({last}) after {time.perf_counter() - t0:.1f} s")
    return Rooms(rows, {"seconds": round(time.perf_counter() - t0, 1), "joinRetries": retries})
