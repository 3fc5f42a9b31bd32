"""500 messages from two SDK clients while their link is cut every few seconds:
every one arrives exactly once, in seq order, in both stores."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest
from parley_client import Conversation, MessageStatus

from tests.client.conftest import sdk, until
from tests.gateway.conftest import Stack
from tests.support.faulty_proxy import FaultyProxy

pytestmark = pytest.mark.timeout(180)
PER_CLIENT = 250


async def cut_every(proxy: FaultyProxy, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)  # the fault schedule itself, not a synchronisation
        proxy.cut()


def settled(conversation: Conversation) -> bool:
    messages = conversation.messages()
    return len(messages) == 2 * PER_CLIENT and all(m.status != MessageStatus.SENDING for m in messages)


async def test_cuts_lose_nothing_and_double_nothing(stack: Stack, user: Callable[[str], str]) -> None:
    alice, bob, conversation_id = await stack.pair(user)
    port = int(stack.url.rsplit(":", 1)[1])
    async with FaultyProxy(port).running() as proxy:
        url = f"http://127.0.0.1:{proxy.port}"
        async with sdk(stack, alice, url=url) as alice_client, sdk(stack, bob, url=url) as bob_client:
            await alice_client.wait_connected()
            await bob_client.wait_connected()
            conversations = [await alice_client.open(conversation_id), await bob_client.open(conversation_id)]
            chaos = asyncio.create_task(cut_every(proxy, 2.5))
            try:
                for n in range(PER_CLIENT):
                    for who, conversation in zip(("alice", "bob"), conversations, strict=True):
                        await conversation.send(f"{who} {n}")
                for conversation in conversations:
                    await until(conversation, settled, wait_s=150)
            finally:
                chaos.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await chaos
            for conversation in conversations:
                await until(conversation, lambda c: c.store.contiguous_seq == 2 * PER_CLIENT, wait_s=30)

    cuts = proxy.connections
    for conversation in conversations:
        messages = conversation.messages()
        assert [m.seq for m in messages] == list(range(1, 2 * PER_CLIENT + 1))
        assert len({m.id for m in messages}) == 2 * PER_CLIENT
        assert all(m.status != MessageStatus.FAILED for m in messages)
        for who in ("alice", "bob"):
            mine = [m.body for m in messages if m.body.startswith(who)]
            assert mine == [f"{who} {n}" for n in range(PER_CLIENT)]  # each sender's order kept
    assert [m.id for m in conversations[0].messages()] == [m.id for m in conversations[1].messages()]
    assert cuts > 4, "the link was really cut and reconnected several times"
