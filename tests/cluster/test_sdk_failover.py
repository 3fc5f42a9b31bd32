"""The SDK across a gateway killed with -9: clients reconnect through the balancer to the
other gateway and, after sync, hold every acked message exactly once."""

from __future__ import annotations

import uuid

import pytest
from parley_client import Conversation, MessageStatus

from tests.client.conftest import until
from tests.cluster.conftest import Cluster
from tests.support.balancer import failover_balancer
from tests.support.ports import free_port

pytestmark = pytest.mark.timeout(120)
COUNT = 40


def all_sent(conversation: Conversation) -> bool:
    return all(m.status != MessageStatus.SENDING for m in conversation.messages())


async def test_kill_9_mid_run_loses_nothing(cluster: Cluster) -> None:
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
            mine = await alice_client.open(conversation_id)
            theirs = await bob_client.open(conversation_id)
            for n in range(COUNT):
                await mine.send(f"m{n}")
                if n == COUNT // 2:
                    a.kill()  # both clients were on gateway A (the balancer's first choice)
            await until(mine, all_sent, wait_s=60)
            await until(theirs, lambda c: c.store.contiguous_seq == COUNT, wait_s=60)

    for conversation in (mine, theirs):
        messages = conversation.messages()
        assert [m.body for m in messages] == [f"m{n}" for n in range(COUNT)]
        assert [m.seq for m in messages] == list(range(1, COUNT + 1))
    assert all(m.status != MessageStatus.FAILED for m in mine.messages())
