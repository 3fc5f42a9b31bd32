"""Two gateways on Redis Sentinel: the Redis Cluster module's chat, presence and shared
rate-limit tests, run here on the sentinels' master (plain pub/sub), and the master killed
mid-chat: the sentinels promote the replica, every service follows it, and no acked message
is lost. The failover test runs last: it leaves the deployment on the promoted replica."""

from __future__ import annotations

import asyncio
import uuid

from parley_common.redis_client import POOL_SIZE, create_sentinel_redis
from tests.cluster.conftest import Cluster
from tests.gateway.conftest import message_payload
from tests.redis_cluster.test_on_redis_cluster import (
    chat_through_a_failover,
    test_chat_typing_presence_and_receipts_across_gateways,
    test_the_rate_limit_is_shared_across_gateways,
)
from tests.support.redis_sentinel import MASTER_NAME, SentinelDeployment

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
    async def kill_the_master(conversation: str) -> None:
        old = sentinel_nodes.master()
        old.kill()  # SIGKILL: no goodbye to the sentinels or the clients
        promoted = await asyncio.to_thread(sentinel_nodes.wait_failed_over, old)
        assert promoted is not old

    alice, bob, conversation = await chat_through_a_failover(cluster, kill_the_master)

    # And the chat goes on, both ways, on the new master.
    a, b = cluster.gateways
    on_a = await cluster.joined(alice, a.url, conversation)
    on_b = await cluster.joined(bob, b.url, conversation)
    sent = await on_b.call("message:send", message_payload(conversation, "after the failover"))
    assert sent["ok"], sent
    assert (await on_a.next("message:new"))["message"]["id"] == sent["message"]["id"]
