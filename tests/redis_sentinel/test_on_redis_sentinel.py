"""Two gateways on Redis Sentinel: the Redis Cluster module's chat, presence and shared
rate-limit tests, run here on the sentinels' master (plain pub/sub), and the master killed
mid-chat: the sentinels promote the replica, every service follows it, and no acked message
is lost. The failover test runs last: it leaves the deployment on the promoted replica."""

from __future__ import annotations

import asyncio
import uuid

from parley_common.redis_client import POOL_SIZE, create_sentinel_redis
from tests.cluster.conftest import Cluster
from tests.cluster.test_two_gateways import Sender, users
from tests.gateway.conftest import message_payload
from tests.redis_cluster.test_on_redis_cluster import (
    LiveReceiver,
    probe_until_live,
    test_chat_typing_presence_and_receipts_across_gateways,
    test_the_rate_limit_is_shared_across_gateways,
)
from tests.support.redis_sentinel import MASTER_NAME, SentinelDeployment
from tests.support.sockets import SocketClient

__all__ = [
    "test_chat_typing_presence_and_receipts_across_gateways",
    "test_the_rate_limit_is_shared_across_gateways",
]


async def test_a_burst_past_the_pool_queues_instead_of_failing(sentinel_nodes: SentinelDeployment) -> None:
    """More commands at once than the pool has connections wait for one (as on a single
    Redis), where redis-py's sentinel pool fails them at once."""
    client = create_sentinel_redis(sentinel_nodes.sentinel_addresses.split(","), MASTER_NAME)
    try:
        key = f"burst-{uuid.uuid4().hex}"
        # Each BLPOP holds its connection until it times out, so the burst must queue.
        answers = await asyncio.gather(*(client.blpop([key], timeout=0.2) for _ in range(POOL_SIZE + 16)))
        assert answers == [None] * (POOL_SIZE + 16)
    finally:
        await client.aclose()


async def test_the_master_killed_mid_chat_loses_no_acked_message(
    cluster: Cluster, sentinel_nodes: SentinelDeployment
) -> None:
    user = users()
    alice, bob = user("alice"), user("bob")
    a, b = cluster.gateways
    conversation = await cluster.conversation(alice, bob)
    sending = await cluster.socket(alice, a.url)
    watching = SocketClient()
    cluster.clients.append(watching)
    receiver = LiveReceiver(watching, conversation)
    await watching.connect(b.url, token=cluster.token(bob))
    sender = Sender(sending, conversation, milestone=10)

    task = asyncio.create_task(sender.send(30))
    await asyncio.wait_for(sender.reached_milestone.wait(), 30)
    old = sentinel_nodes.master()
    old.kill()  # SIGKILL: no goodbye to the sentinels or the clients
    promoted = await asyncio.to_thread(sentinel_nodes.wait_failed_over, old)
    assert promoted is not old
    await asyncio.wait_for(task, 60)

    # Live delivery comes back: the gateway subscribes again on the promoted replica.
    probes = await probe_until_live(sending, conversation, receiver)
    await receiver.sync_all()
    acked = sorted([message["seq"] for message in [*sender.acked.values(), *probes]])
    assert sorted(receiver.by_seq) == acked, "what is stored is what was acked, once"
    assert acked == list(range(1, 31 + len(probes))), "every send acked once, seqs without gaps"

    # And the chat goes on, both ways, on the new master.
    on_a = await cluster.joined(alice, a.url, conversation)
    on_b = await cluster.joined(bob, b.url, conversation)
    sent = await on_b.call("message:send", message_payload(conversation, "after the failover"))
    assert sent["ok"], sent
    assert (await on_a.next("message:new"))["message"]["id"] == sent["message"]["id"]
