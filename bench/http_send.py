"""Closed-loop HTTP send benchmark of a messages service: throughput and latency.

    python bench/http_send.py --url http://127.0.0.1:8001 --secret "$JWT_SECRET" \
        --users 200 --concurrency 32 --messages 4000

Users are paired into conversations; each worker sends as a rotating user. Prints one
JSON line (msg/s, p50/p99/max ms, status counts). Run it several times and compare medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections import Counter

import httpx
from jose import jwt


def token(secret: str, user_id: str) -> str:
    return str(jwt.encode({"sub": user_id, "exp": int(time.time()) + 3600}, secret, algorithm="HS256"))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8001")
    parser.add_argument("--secret", default="dev-secret")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--messages", type=int, default=4000)
    args = parser.parse_args()

    run = uuid.uuid4().hex[:6]
    users = [f"bench-{run}-{n}" for n in range(args.users)]
    headers = {u: {"Authorization": f"Bearer {token(args.secret, u)}"} for u in users}
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=args.url, limits=limits, timeout=30) as client:
        conversation_of: dict[str, str] = {}
        for a, b in zip(users[::2], users[1::2], strict=False):
            created = await client.post("/api/conversations", json={"memberIds": [b]}, headers=headers[a])
            conversation_of[a] = conversation_of[b] = created.json()["id"]

        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        counter = iter(range(args.messages))

        async def worker() -> None:
            for n in counter:
                sender = users[n % len(users)]
                started = time.perf_counter()
                response = await client.post(
                    f"/api/conversations/{conversation_of[sender]}/messages",
                    json={"clientMessageId": str(uuid.uuid4()), "body": f"bench message {n}"},
                    headers=headers[sender],
                )
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    print(
        json.dumps(
            {
                "messages": args.messages,
                "concurrency": args.concurrency,
                "msgPerS": round(args.messages / elapsed),
                "p50Ms": round(statistics.median(latencies), 2),
                "p99Ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
                "maxMs": round(latencies[-1], 2),
                "statuses": dict(statuses),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
