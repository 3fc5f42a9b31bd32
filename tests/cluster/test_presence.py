"""Presence with real processes: devices on two gateways, a gateway killed, presence
restarted or doubled. Timings are shortened by the fixture (grace 0.5 s, gateway TTL 2 s)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from tests.cluster.conftest import GATEWAY_TTL_S, GRACE_MS, Cluster
from tests.support.sockets import SocketClient


def users() -> Callable[[str], str]:
    suffix = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{suffix}"


async def online_users(client: SocketClient, conversation: str) -> dict[str, bool]:
    joined = await client.call("conversation:join", {"conversationId": conversation})
    return {m["userId"]: m["online"] for m in joined["members"]}


async def test_two_devices_on_two_gateways_are_one_presence(cluster: Cluster) -> None:
    user = users()
    alice, bob = user("alice"), user("bob")
    a, b = (g.url for g in cluster.gateways)
    conversation = await cluster.conversation(alice, bob)
    watcher = await cluster.joined(bob, a, conversation)
    assert (await watcher.next("user:online"))["userId"] == bob

    on_a = await cluster.joined(alice, a, conversation)
    assert (await watcher.next("user:online"))["userId"] == alice
    on_b = await cluster.joined(alice, b, conversation)
    assert (await online_users(watcher, conversation))[alice] is True

    await on_a.close()
    await on_b.call("conversation:leave", {"conversationId": conversation})
    assert (await watcher.next("user:offline"))["userId"] == alice
    assert watcher.pending("user:online") == []
    assert (await online_users(watcher, conversation))[alice] is False


async def test_kill_9_a_gateway_and_its_users_go_offline(cluster: Cluster) -> None:
    user = users()
    alice, bob = user("alice"), user("bob")
    doomed = cluster.gateway("gateway-doomed").start()
    cluster.gateways.append(doomed)
    conversation = await cluster.conversation(alice, bob)
    watcher = await cluster.joined(bob, cluster.gateways[0].url, conversation)
    victim = await cluster.socket(alice, doomed.url, reconnection=False)
    await victim.call("conversation:join", {"conversationId": conversation})
    await watcher.next("user:online")
    assert (await watcher.next("user:online"))["userId"] == alice

    started = time.monotonic()
    doomed.kill()
    offline = await watcher.next("user:offline", wait_s=30)

    assert offline["userId"] == alice
    elapsed = time.monotonic() - started
    assert elapsed < 30
    assert elapsed >= GATEWAY_TTL_S / 3  # it took the heartbeat to lapse: no clean disconnect told anyone


async def test_presence_restarted_mid_run_loses_nothing(cluster: Cluster) -> None:
    user = users()
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    conversation = await cluster.conversation(alice, bob, carol)
    watcher = await cluster.joined(bob, cluster.gateways[0].url, conversation)
    await watcher.next("user:online")
    leaving = await cluster.joined(carol, cluster.gateways[1].url, conversation)
    await watcher.next("user:online")

    presence = cluster.presence[0]
    presence.kill()
    await cluster.joined(alice, cluster.gateways[1].url, conversation)  # while presence is down
    await leaving.close()
    presence.start()

    heard = {(await watcher.next("user:online"))["userId"], (await watcher.next("user:offline"))["userId"]}
    assert heard == {alice, carol}
    assert await online_users(watcher, conversation) == {alice: True, bob: True, carol: False}


async def test_two_presence_replicas_announce_each_transition_once(cluster: Cluster) -> None:
    cluster.presence.append(cluster.presence_replica("presence-2").start())
    user = users()
    watcher_id = user("watcher")
    others = [user(f"member-{n}") for n in range(6)]
    conversation = await cluster.conversation(watcher_id, *others)
    watcher = await cluster.joined(watcher_id, cluster.gateways[0].url, conversation)
    await watcher.next("user:online")

    for n, member in enumerate(others):
        client = await cluster.joined(member, cluster.gateways[n % 2].url, conversation)
        await client.close()
        if n == 2:
            cluster.presence[0].kill()  # the leader, most likely: the other one takes over
    await asyncio.wait_for(_offline_count(watcher, len(others)), 30)

    onlines = [e["userId"] for e in watcher.pending("user:online")]
    assert sorted(onlines) == sorted(others)


async def _offline_count(watcher: SocketClient, count: int) -> None:
    seen: list[str] = []
    while len(seen) < count:
        seen.append((await watcher.next("user:offline", wait_s=30))["userId"])
    assert len(set(seen)) == count, seen


async def test_the_grace_period_hides_a_quick_reconnect(cluster: Cluster) -> None:
    user = users()
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    conversation = await cluster.conversation(alice, bob, carol)
    url = cluster.gateways[0].url
    watcher = await cluster.joined(bob, url, conversation)
    first = await cluster.joined(alice, url, conversation)
    leaving = await cluster.joined(carol, cluster.gateways[1].url, conversation)
    assert {(await watcher.next("user:online"))["userId"] for _ in range(3)} == {alice, bob, carol}

    await first.close()
    await leaving.close()
    await cluster.joined(alice, cluster.gateways[1].url, conversation)  # back, on the other gateway

    assert (await watcher.next("user:offline", wait_s=GRACE_MS / 1000 + 10))["userId"] == carol
    assert watcher.pending("user:offline") == [] and watcher.pending("user:online") == []
