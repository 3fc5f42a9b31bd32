"""Two gateways on a Redis Cluster: chat, typing, presence and receipts across them, one
shared rate limit, each gateway hearing only its rooms (shard channels), and a master
killed mid-chat that loses no acked message. The failover test runs last: it leaves the
cluster with a promoted replica."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import redis

from parley_common.bus import RedisBus
from parley_common.channels import conversation_channel
from tests.cluster.conftest import Cluster
from tests.cluster.test_targeted_delivery import bus_messages
from tests.cluster.test_two_gateways import Receiver, Sender, users
from tests.gateway.conftest import message_payload
from tests.support.redis_cluster import RedisCluster
from tests.support.sockets import SocketClient


def shard_channel(cluster: Cluster, conversation_id: str) -> str:
    return RedisBus.channel_name(cluster.env["REDIS_PREFIX"], conversation_channel(conversation_id))


def shard_subscribers(nodes: RedisCluster, channel: str) -> int:
    """Subscribers of a shard channel, asked on the master that owns it."""
    owner: redis.Redis = nodes.master_of(channel).client()
    [(_, count)] = owner.execute_command("PUBSUB SHARDNUMSUB", channel)
    return int(count)


async def test_chat_typing_presence_and_receipts_across_gateways(cluster: Cluster) -> None:
    user = users()
    alice, bob = user("alice"), user("bob")
    a, b = (gateway.url for gateway in cluster.gateways)
    conversation = await cluster.conversation(alice, bob)
    on_a = await cluster.joined(alice, a, conversation)
    assert (await on_a.next("user:online"))["userId"] == alice
    on_b = await cluster.joined(bob, b, conversation)
    assert (await on_a.next("user:online"))["userId"] == bob

    sent = await on_a.call("message:send", message_payload(conversation, "over a cluster"))
    assert await on_b.next("message:new") == {"message": sent["message"]}
    reply = await on_b.call("message:send", message_payload(conversation, "and back"))
    assert await on_a.next("message:new") == {"message": reply["message"]}
    await on_b.call("typing:start", {"conversationId": conversation})
    assert await on_a.next("typing:start") == {"conversationId": conversation, "userId": bob}
    assert (await on_b.call("message:read", {"conversationId": conversation, "upToSeq": 2}))["upToSeq"] == 2
    assert (await on_a.next("message:delivered"))["userId"] == bob
    assert (await on_a.next("message:read"))["upToSeq"] == 2

    await on_b.close()
    assert (await on_a.next("user:offline", wait_s=10))["userId"] == bob


async def test_the_rate_limit_is_shared_across_gateways(cluster: Cluster) -> None:
    """Alice sends from a device on each gateway at once: 10 a second in all (the limit is
    counted with the stored messages, so a Redis Cluster changes nothing of it)."""
    user = users()
    alice = user("alice")
    conversation = await cluster.conversation(alice)
    devices = [await cluster.socket(alice, gateway.url) for gateway in cluster.gateways]

    acks = await asyncio.gather(
        *(devices[i % 2].call("message:send", message_payload(conversation)) for i in range(16))
    )
    stored = [ack for ack in acks if ack["ok"]]
    assert 0 < len(stored) <= 10
    assert all(ack["error"]["code"] == "rate_limited" for ack in acks if not ack["ok"])


async def test_each_gateway_hears_only_its_rooms_on_shard_channels(
    cluster: Cluster, redis_nodes: RedisCluster
) -> None:
    user = users()
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    hosting, elsewhere = cluster.gateways
    conversation = await cluster.conversation(alice, bob, carol)
    on_a = await cluster.joined(alice, hosting.url, conversation)
    on_b = await cluster.joined(bob, hosting.url, conversation)
    carol_socket = await cluster.socket(carol, elsewhere.url)
    heard_before = await bus_messages(elsewhere)

    for n in range(5):
        sent = await on_a.call("message:send", message_payload(conversation, f"m{n}"))
        assert (await on_b.next("message:new"))["message"]["id"] == sent["message"]["id"]
    assert (await carol_socket.call("message:send", message_payload(conversation, "from afar")))["ok"]
    assert (await on_a.next("message:new"))["message"]["senderId"] == carol

    assert await bus_messages(elsewhere) == heard_before
    assert shard_subscribers(redis_nodes, shard_channel(cluster, conversation)) == 1


class LiveReceiver(Receiver):
    """A :class:`Receiver` that can wait for one message to arrive live."""

    def __init__(self, client: SocketClient, conversation_id: str) -> None:
        super().__init__(client, conversation_id)
        self.arrived = asyncio.Condition()

    def keep(self, messages: list[dict[str, Any]]) -> None:
        super().keep(messages)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self.arrived:
            self.arrived.notify_all()

    async def sync_all(self) -> None:
        """Everything stored, from seq 0: live events missed during the failover left holes
        below the highest seq seen, which a sync after that seq would not fill."""
        after = 0
        while True:
            page = await self.client.call(
                "messages:sync", {"conversationId": self.conversation_id, "afterSeq": after}
            )
            self.keep(page["messages"])
            if not page["hasMore"]:
                return
            after = page["messages"][-1]["seq"]

    async def wait_for(self, message_id: str) -> None:
        async with self.arrived:
            await self.arrived.wait_for(lambda: message_id in self.received)


async def probe_until_live(
    sending: SocketClient, conversation: str, receiver: LiveReceiver, wait_s: float = 20
) -> list[dict[str, Any]]:
    """Send probes until one arrives live (at most ``wait_s``): the acked probes. After a
    failover a gateway subscribes again on its own schedule, so a probe published before
    that is (rightly) only found by sync."""
    probes: list[dict[str, Any]] = []
    async with asyncio.timeout(wait_s):
        while True:
            prober = Sender(sending, conversation, milestone=1)
            await prober.send(1)  # retried while rate limited
            [probe] = prober.acked.values()
            probes.append(probe)
            try:
                await asyncio.wait_for(receiver.wait_for(str(probe["id"])), 2)
                return probes
            except TimeoutError:
                continue


async def chat_through_a_failover(
    cluster: Cluster, fail_over: Callable[[str], Awaitable[None]]
) -> tuple[str, str, str]:
    """Alice sends 30 messages to bob across the gateways; after the 10th, ``fail_over``
    (given the conversation) kills a master and waits until another has taken over. Every send
    is acked once, seqs have no gaps, and live delivery comes back. Returns alice, bob and the
    conversation."""
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
    await fail_over(conversation)
    await asyncio.wait_for(task, 60)

    # Live delivery is back: the gateway subscribed again on the promoted replica.
    probes = await probe_until_live(sending, conversation, receiver)
    await receiver.sync_all()
    acked = sorted([message["seq"] for message in [*sender.acked.values(), *probes]])
    assert sorted(receiver.by_seq) == acked, "what is stored is what was acked, once"
    assert acked == list(range(1, 31 + len(probes))), "every send acked once, seqs without gaps"
    return alice, bob, conversation


async def test_a_master_killed_mid_chat_loses_no_acked_message(
    cluster: Cluster, redis_nodes: RedisCluster
) -> None:
    async def kill_the_rooms_master(conversation: str) -> None:
        redis_nodes.master_of(shard_channel(cluster, conversation)).kill()
        await asyncio.to_thread(redis_nodes.wait_healthy)

    await chat_through_a_failover(cluster, kill_the_rooms_master)
