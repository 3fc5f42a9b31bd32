"""Two gateway processes behind Redis: shared rooms, one rate limit, and a gateway killed."""

from __future__ import annotations

import asyncio
import math
import signal
import uuid
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
import socketio

from parley_common.bus import RedisBus
from parley_common.channels import Router
from parley_common.events import UserEvent
from tests.cluster.conftest import Cluster, new_key
from tests.gateway.conftest import message_payload
from tests.support.balancer import failover_balancer
from tests.support.ports import free_port
from tests.support.processes import start_all
from tests.support.sockets import SocketClient


def users() -> Callable[[str], str]:
    suffix = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{suffix}"


async def test_members_on_different_gateways_chat_type_and_read(cluster: Cluster) -> None:
    user = users()
    alice, bob = user("alice"), user("bob")
    a, b = (gateway.url for gateway in cluster.gateways)
    conversation = await cluster.conversation(alice, bob)
    on_a = await cluster.joined(alice, a, conversation)
    on_b = await cluster.joined(bob, b, conversation)

    sent = await on_a.call("message:send", message_payload(conversation, "across gateways"))
    assert sent["ok"], sent
    assert await on_b.next("message:new") == {"message": sent["message"]}
    reply = await on_b.call("message:send", message_payload(conversation, "and back"))
    assert await on_a.next("message:new") == {"message": reply["message"]}

    await on_b.call("typing:start", {"conversationId": conversation})
    assert await on_a.next("typing:start") == {"conversationId": conversation, "userId": bob}

    assert (await on_b.call("message:read", {"conversationId": conversation, "upToSeq": 1}))["upToSeq"] == 1
    assert (await on_a.next("message:read"))["userId"] == bob
    # Exactly once per gateway pair: the barrier below would arrive after any duplicate.
    barrier = await on_b.call("message:send", message_payload(conversation, "barrier"))
    assert (await on_a.next("message:new"))["message"]["id"] == barrier["message"]["id"]
    assert on_a.pending("message:new") == on_a.pending("message:read") == []


async def test_the_rate_limit_holds_across_gateways(cluster: Cluster) -> None:
    """Two gateways, each with a messages process of its own: a limit kept in one process
    would let each path have its own ten."""
    other_messages = cluster.messages_replica("messages-2")
    other_gateway = cluster.gateway("gateway-of-messages-2", messages=other_messages)
    cluster.gateways.append(other_gateway)  # stopped with the others
    cluster.extra.append(other_messages)
    await asyncio.to_thread(start_all, [other_messages, other_gateway])
    user = users()
    alice = user("alice")
    conversation = await cluster.conversation(alice)
    devices = [await cluster.socket(alice, g.url) for g in (cluster.gateways[0], other_gateway)]
    loop = asyncio.get_running_loop()

    started = loop.time()
    acks = await asyncio.gather(
        *(devices[i % 2].call("message:send", message_payload(conversation)) for i in range(40))
    )
    span_s = loop.time() - started

    stored = [ack for ack in acks if ack["ok"]]
    limited = [ack["error"] for ack in acks if not ack["ok"]]
    # At most 10 in any sliding second: over span_s, at most 10 per started second. With
    # each process counting on its own, both paths would have stored their 10 at once.
    assert len(stored) <= 10 * (math.floor(span_s) + 1), (len(stored), span_s)
    assert limited and all(e["code"] == "rate_limited" and 0 < e["retryAfterMs"] <= 1000 for e in limited)
    synced = await devices[0].call("messages:sync", {"conversationId": conversation})
    assert len(synced["messages"]) == len(stored)


async def test_a_user_event_reaches_every_socket_of_the_user(
    cluster: Cluster, redis_url: str, redis_prefix: str
) -> None:
    user = users()
    alice = user("alice")
    devices = [await cluster.socket(alice, gateway.url) for gateway in cluster.gateways]
    client = aioredis.Redis.from_url(redis_url)
    bus = RedisBus(client, prefix=redis_prefix)
    event = UserEvent(user_id=alice, event="notice", data={"hello": alice})

    await bus.publish(Router().channel_of(event.model_dump()), event.model_dump())

    assert [await device.next("notice") for device in devices] == [{"hello": alice}] * 2
    await client.aclose()


class Sender:
    """Sends numbered messages one by one, retrying each with its key until acked."""

    def __init__(self, client: SocketClient, conversation_id: str, *, milestone: int) -> None:
        self.client = client
        self.conversation_id = conversation_id
        self.acked: dict[str, dict[str, Any]] = {}
        self._milestone = milestone
        self.reached_milestone = asyncio.Event()

    async def send(self, count: int) -> None:
        for n in range(count):
            key = new_key()
            while True:
                try:
                    ack = await self.client.call(
                        "message:send", message_payload(self.conversation_id, f"m{n}", key), wait_s=2
                    )
                except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
                    await asyncio.sleep(0.1)  # disconnected: the client is reconnecting
                    continue
                if ack["ok"]:
                    self.acked[key] = ack["message"]
                    if len(self.acked) >= self._milestone:
                        self.reached_milestone.set()
                    break
                assert ack["error"]["code"] in ("unavailable", "rate_limited"), ack
                await asyncio.sleep(ack["error"].get("retryAfterMs", 100) / 1000)


class Receiver:
    """Keeps a store of messages: live ones, and a seq sync after every (re)connect."""

    def __init__(self, client: SocketClient, conversation_id: str) -> None:
        self.client = client
        self.conversation_id = conversation_id
        self.by_seq: dict[int, dict[str, Any]] = {}
        self.received: list[str] = []

        @client.sio.on("message:new")
        async def on_new(data: dict[str, Any]) -> None:
            self.keep([data["message"]])

        client.on_connect.append(self.catch_up)

    def keep(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.received.append(message["id"])
            self.by_seq.setdefault(message["seq"], message)

    async def catch_up(self) -> None:
        await self.client.call("conversation:join", {"conversationId": self.conversation_id})
        while True:
            # From the end of the gap-free prefix, as the SDKs do: live events that raced
            # past a missed one must not hide it.
            after = 0
            while after + 1 in self.by_seq:
                after += 1
            page = await self.client.call(
                "messages:sync", {"conversationId": self.conversation_id, "afterSeq": after}
            )
            self.keep(page["messages"])
            if not page["hasMore"]:
                return


async def test_kill_9_a_gateway_clients_fail_over_and_lose_nothing(cluster: Cluster) -> None:
    user = users()
    alice, bob = user("alice"), user("bob")
    a, b = cluster.gateways
    front = free_port()
    conversation = await cluster.conversation(alice, bob)
    async with failover_balancer(front, [a.port, b.port]):
        url = f"http://127.0.0.1:{front}"
        sending = await cluster.socket(alice, url, reconnection_delay=0.2, reconnection_delay_max=0.5)
        watching = SocketClient(reconnection_delay=0.2, reconnection_delay_max=0.5)
        cluster.clients.append(watching)
        receiver = Receiver(watching, conversation)
        await watching.connect(url, token=cluster.token(bob))
        sender = Sender(sending, conversation, milestone=20)

        task = asyncio.create_task(sender.send(60))
        await asyncio.wait_for(sender.reached_milestone.wait(), 30)
        a.kill()
        await asyncio.wait_for(task, 60)
        await receiver.catch_up()

    acked = sorted(message["seq"] for message in sender.acked.values())
    assert acked == list(range(1, 61)), "every send acked once, seqs without gaps"
    assert sorted(receiver.by_seq) == acked
    assert {m["id"] for m in receiver.by_seq.values()} == {m["id"] for m in sender.acked.values()}


async def test_sigterm_drains_and_clients_reconnect(cluster: Cluster) -> None:
    user = users()
    alice = user("alice")
    conversation = await cluster.conversation(alice)
    doomed = await cluster.gateway("gateway-doomed").start_async()
    cluster.gateways.append(doomed)
    front = free_port()
    async with failover_balancer(front, [doomed.port, cluster.gateways[0].port]):
        client = await cluster.socket(alice, f"http://127.0.0.1:{front}", reconnection_delay=0.2)

        doomed.signal(signal.SIGTERM)

        reason = await asyncio.wait_for(client.disconnects.get(), 10)
        # A transport close or error, never a server DISCONNECT: that would stop the reconnects.
        assert reason in ("transport close", "transport error")
        assert doomed.wait(20) == 0
        await client.next_connect()
        ack = await client.call("message:send", message_payload(conversation, "after the drain"))
        assert ack["ok"], ack
