"""Each gateway hears only the rooms of its own sockets (BUS_ROUTING=rooms): counted at the
bus, on the gateway's own metrics, and on Redis's list of subscribers."""

from __future__ import annotations

import httpx
import redis.asyncio as aioredis

from parley_common.bus import RedisBus
from parley_common.channels import conversation_channel
from tests.cluster.conftest import Cluster
from tests.cluster.test_two_gateways import users
from tests.gateway.conftest import message_payload
from tests.support.processes import ServiceProcess

MESSAGES = 8  # under the send limit of one user (10 per second)


async def bus_messages(gateway: ServiceProcess) -> float:
    """How many bus messages the gateway has received so far."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(gateway.metrics_url)).text
    for line in text.splitlines():
        if line.startswith("parley_gateway_bus_messages_total "):
            return float(line.split()[1])
    raise AssertionError("no parley_gateway_bus_messages_total on /metrics")


async def subscribers(redis_url: str, redis_prefix: str, conversation_id: str) -> int:
    client = aioredis.Redis.from_url(redis_url)
    try:
        channel = RedisBus.channel_name(redis_prefix, conversation_channel(conversation_id))
        [(_, count)] = await client.pubsub_numsub(channel)
        return int(count)
    finally:
        await client.aclose()


async def test_a_gateway_that_never_joined_a_conversation_hears_none_of_it(
    cluster: Cluster, redis_url: str, redis_prefix: str
) -> None:
    user = users()
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    hosting, elsewhere = cluster.gateways
    conversation = await cluster.conversation(alice, bob, carol)
    on_a = await cluster.joined(alice, hosting.url, conversation)
    on_b = await cluster.joined(bob, hosting.url, conversation)
    # Carol is a member and connected, but through the other gateway, and never joins.
    carol_socket = await cluster.socket(carol, elsewhere.url)
    heard_before = await bus_messages(hosting), await bus_messages(elsewhere)

    for n in range(MESSAGES):
        sent = await on_a.call("message:send", message_payload(conversation, f"m{n}"))
        assert sent["ok"], sent
        assert (await on_b.next("message:new"))["message"]["seq"] == sent["message"]["seq"]
    await on_b.call("typing:start", {"conversationId": conversation})
    assert await on_a.next("typing:start") == {"conversationId": conversation, "userId": bob}
    assert (await on_b.call("message:read", {"conversationId": conversation, "upToSeq": MESSAGES}))["ok"]
    assert (await on_a.next("message:read"))["userId"] == bob
    # Carol's own sends go through her gateway, yet their events still reach only the host.
    assert (await carol_socket.call("message:send", message_payload(conversation, "from afar")))["ok"]
    assert (await on_a.next("message:new"))["message"]["senderId"] == carol

    heard_after = await bus_messages(hosting), await bus_messages(elsewhere)
    assert heard_after[0] - heard_before[0] >= MESSAGES  # the host heard the room...
    assert heard_after[1] == heard_before[1]  # ...the other gateway nothing at all
    assert carol_socket.pending("message:new") == []
    assert await subscribers(redis_url, redis_prefix, conversation) == 1


async def test_the_last_leave_unsubscribes_and_a_rejoin_hears_again(
    cluster: Cluster, redis_url: str, redis_prefix: str
) -> None:
    user = users()
    alice, bob = user("alice"), user("bob")
    gateway = cluster.gateways[0].url
    conversation = await cluster.conversation(alice, bob)
    on_a = await cluster.joined(alice, gateway, conversation)
    on_b = await cluster.joined(bob, gateway, conversation)
    assert await subscribers(redis_url, redis_prefix, conversation) == 1

    assert (await on_a.call("conversation:leave", {"conversationId": conversation}))["ok"]
    assert await subscribers(redis_url, redis_prefix, conversation) == 1  # Bob is still in
    await on_b.close()
    # A disconnect is seen by the gateway a moment after the client closed: wait for it.
    for _ in range(100):
        if await subscribers(redis_url, redis_prefix, conversation) == 0:
            break
        await on_a.call("messages:sync", {"conversationId": conversation})  # a round trip, not a sleep
    assert await subscribers(redis_url, redis_prefix, conversation) == 0

    assert (await on_a.call("conversation:join", {"conversationId": conversation}))["ok"]
    sender = await cluster.socket(bob, cluster.gateways[1].url)
    sent = await sender.call("message:send", message_payload(conversation, "after the rejoin"))
    assert (await on_a.next("message:new")) == {"message": sent["message"]}
