"""A rolling restart, locally: while two users chat through two gateways, each gateway in
turn gets SIGTERM (drains, exits 0) and comes back. Every acked message reaches both
stores exactly once, in order, and no send ends in an error the SDK could not get past."""

from __future__ import annotations

import asyncio
import signal
import uuid

import pytest
from parley_client import Conversation, MessageStatus

from tests.client.conftest import until
from tests.cluster.conftest import Cluster
from tests.support.balancer import failover_balancer
from tests.support.processes import ServiceProcess
from tests.support.servers import free_port

pytestmark = pytest.mark.timeout(180)
PER_USER = 60


async def chat(conversation: Conversation, who: str) -> None:
    for n in range(PER_USER):
        await conversation.send(f"{who} {n}")
        await asyncio.sleep(0.05)  # pacing of a person typing, not a synchronisation


def restart(gateway: ServiceProcess) -> None:
    gateway.signal(signal.SIGTERM)
    assert gateway.wait(30) == 0, gateway.logs()
    gateway.start()


async def test_restarting_each_gateway_in_turn_loses_and_doubles_nothing(cluster: Cluster) -> None:
    suffix = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{suffix}", f"bob-{suffix}"
    conversation_id = await cluster.conversation(alice, bob)
    a, b = cluster.gateways
    front = free_port()
    async with failover_balancer(front, [a.port, b.port]):
        url = f"http://127.0.0.1:{front}"
        async with cluster.sdk(alice, url) as alice_client, cluster.sdk(bob, url) as bob_client:
            await alice_client.wait_connected()
            await bob_client.wait_connected()
            conversations = [await alice_client.open(conversation_id), await bob_client.open(conversation_id)]
            chatting = asyncio.gather(chat(conversations[0], "alice"), chat(conversations[1], "bob"))
            for gateway in (a, b):
                await asyncio.sleep(1)  # let the chat run a while on this gateway
                await asyncio.to_thread(restart, gateway)
            await chatting
            for conversation in conversations:
                await until(conversation, lambda c: c.store.contiguous_seq == 2 * PER_USER, wait_s=60)
                await until(conversation, lambda c: all(m.seq for m in c.messages()), wait_s=60)

    for conversation in conversations:
        messages = conversation.messages()
        assert [m.seq for m in messages] == list(range(1, 2 * PER_USER + 1))
        assert all(m.status != MessageStatus.FAILED for m in messages)
        for who in ("alice", "bob"):
            assert [m.body for m in messages if m.body.startswith(who)] == [
                f"{who} {n}" for n in range(PER_USER)
            ]
    assert [m.id for m in conversations[0].messages()] == [m.id for m in conversations[1].messages()]
