"""SDK end to end: ParleyClient against the embedded default on a real port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from parley_client import Conversation, MessageStatus, ParleyClient

from tests.gateway.conftest import Stack, stack, user

__all__ = ["stack", "user"]  # fixtures shared with the gateway tests


@asynccontextmanager
async def sdk(
    stack: Stack, user_id: str, *, url: str | None = None, gateway: int = 0, **options: Any
) -> AsyncIterator[ParleyClient]:
    """A started SDK client of ``user_id`` on ``url`` (default: gateway number ``gateway``)."""

    async def token() -> str:
        return stack.token(user_id)

    client = ParleyClient(url or stack.gateway_url(gateway), token_provider=token, **options)
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


def seqs_and_ids(conversation: Conversation) -> tuple[list[int | None], int]:
    messages = conversation.messages()
    return [m.seq for m in messages], len({m.id for m in messages})


async def all_hold(conversations: list[Conversation], count: int, wait_s: float = 10) -> None:
    """Every store holds ``count`` messages, each once, in seq order 1..count."""
    for conversation in conversations:
        await until(
            conversation, lambda c: [m.seq for m in c.messages()] == list(range(1, count + 1)), wait_s
        )
        assert seqs_and_ids(conversation) == (list(range(1, count + 1)), count)


async def all_read(conversations: list[Conversation], wait_s: float = 10) -> None:
    """Each marks everything read; every sender then sees each of its messages read (blue)."""
    for conversation in conversations:
        await conversation.mark_read()
    for conversation in conversations:
        await until(
            conversation,
            lambda c: all(m.status == MessageStatus.READ for m in c.messages() if m.sender_id == c.user_id),
            wait_s,
        )
