"""SDK end to end: ParleyClient against the embedded default on a real port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from parley_client import Conversation, ParleyClient

from tests.gateway.conftest import Stack, stack, user

__all__ = ["stack", "user"]  # fixtures shared with the gateway tests


@asynccontextmanager
async def sdk(
    stack: Stack, user_id: str, *, url: str | None = None, **options: Any
) -> AsyncIterator[ParleyClient]:
    async def token() -> str:
        return stack.token(user_id)

    client = ParleyClient(url or stack.url, token_provider=token, **options)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def until(
    conversation: Conversation, check: Callable[[Conversation], bool], wait_s: float = 10
) -> None:
    """Wait for ``check`` to hold, re-checked on every change of the conversation."""
    changed = asyncio.Event()
    conversation.on_change(lambda _: changed.set())
    async with asyncio.timeout(wait_s):
        while not check(conversation):
            changed.clear()
            await changed.wait()


def bodies(conversation: Conversation) -> list[str]:
    return [m.body for m in conversation.messages()]


def outbox_path(tmp_path: Path, name: str) -> Path:
    return tmp_path / f"{name}-outbox.sqlite"
