"""The few HTTP calls the scenarios make (PROTOCOL §5): creating their conversations."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiohttp
import orjson

T = TypeVar("T")


async def create_conversation(
    session: aiohttp.ClientSession, url: str, token: str, member_ids: list[str], title: str
) -> str:
    async with session.post(
        f"{url}/api/conversations",
        data=orjson.dumps({"memberIds": member_ids, "title": title}),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    ) as response:
        body = await response.read()
        if response.status >= 300:
            raise RuntimeError(f"POST /api/conversations -> {response.status} {body[:300]!r}")
        conversation_id: str = orjson.loads(body)["id"]
        return conversation_id


async def each_limited(items: Sequence[T], limit: int, fn: Callable[[T], Awaitable[Any]]) -> None:
    """``fn(item)`` for every item, at most ``limit`` at a time."""
    iterator = iter(items)

    async def lane() -> None:
        for item in iterator:
            await fn(item)

    await asyncio.gather(*(lane() for _ in range(max(1, min(limit, len(items))))))
