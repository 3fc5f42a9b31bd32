"""The SDK against a real gateway: ticks, presence, typing, offline queue, restarts, a bad link."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from parley_client import ConnectionState, MessageStatus, ParleyClient

from parley_common.event_limits import EventLimit
from tests.client.conftest import bodies, outbox_path, sdk, until
from tests.gateway.conftest import Stack, both_topologies, serving
from tests.support.faulty_proxy import FaultyProxy


@both_topologies
async def test_a_message_goes_sending_sent_delivered_read(stack: Stack, user: Callable[[str], str]) -> None:
    alice, bob, conversation_id = await stack.pair(user)
    async with sdk(stack, alice) as alice_client, sdk(stack, bob, gateway=1) as bob_client:
        await alice_client.wait_connected()
        await bob_client.wait_connected()
        mine = await alice_client.open(conversation_id)
        theirs = await bob_client.open(conversation_id)

        message = await mine.send("hello bob")
        assert message.status == MessageStatus.SENDING  # shown at once
        await until(theirs, lambda c: bodies(c) == ["hello bob"])
        # bob's client acknowledged delivery by itself
        await until(mine, lambda c: c.messages()[0].status == MessageStatus.DELIVERED)
        await theirs.mark_read()
        await until(mine, lambda c: c.messages()[0].status == MessageStatus.READ)
        assert message.seq == 1 and message.id is not None


@both_topologies
async def test_presence_and_typing_reach_the_other_member(stack: Stack, user: Callable[[str], str]) -> None:
    alice, bob, conversation_id = await stack.pair(user)
    async with sdk(stack, alice) as alice_client, sdk(stack, bob, gateway=1) as bob_client:
        await bob_client.wait_connected()
        theirs = await bob_client.open(conversation_id)
        await alice_client.wait_connected()
        mine = await alice_client.open(conversation_id)

        await until(theirs, lambda c: alice in c.online_users)
        mine.keystroke()
        await until(theirs, lambda c: c.typing.typing_users == {alice})
        await mine.send("done typing")
        await until(theirs, lambda c: c.typing.typing_users == set())
        assert mine.typing.typing_users == set()  # never one's own


@both_topologies
async def test_sends_while_offline_are_queued_and_flushed_in_order(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob, conversation_id = await stack.pair(user)
    port = int(stack.url.rsplit(":", 1)[1])
    async with FaultyProxy(port).running() as proxy, sdk(stack, bob, gateway=1) as bob_client:
        theirs = await bob_client.open(conversation_id)
        async with sdk(stack, alice, url=f"http://127.0.0.1:{proxy.port}") as alice_client:
            await alice_client.wait_connected()
            mine = await alice_client.open(conversation_id)
            proxy.blackhole()
            proxy.cut()
            await _state(alice_client, ConnectionState.DISCONNECTED)

            for n in range(3):
                await mine.send(f"offline {n}")
            assert [m.status for m in mine.messages()] == [MessageStatus.SENDING] * 3
            proxy.heal()

            await until(theirs, lambda c: bodies(c) == ["offline 0", "offline 1", "offline 2"], wait_s=20)
            await until(mine, lambda c: all(m.seq for m in c.messages()), wait_s=20)
            assert [m.seq for m in mine.messages()] == [1, 2, 3]


async def test_a_dead_link_is_noticed_in_under_5_seconds(stack: Stack, user: Callable[[str], str]) -> None:
    port = int(stack.url.rsplit(":", 1)[1])
    async with (
        FaultyProxy(port).running() as proxy,
        sdk(stack, user("alice"), url=f"http://127.0.0.1:{proxy.port}") as client,
    ):
        await client.wait_connected()
        started = time.monotonic()
        proxy.blackhole()  # nothing is closed: only the pings can tell

        await _state(client, ConnectionState.DISCONNECTED, wait_s=10)

        assert time.monotonic() - started < 5


@both_topologies
async def test_unsent_messages_survive_a_restart_of_the_app(
    stack: Stack, user: Callable[[str], str], tmp_path: Path
) -> None:
    alice, bob, conversation_id = await stack.pair(user)
    path = outbox_path(tmp_path, alice)
    nowhere = "http://127.0.0.1:9"  # the app starts offline
    async with sdk(stack, alice, url=nowhere, outbox_path=path) as offline:
        conversation = await offline.open(conversation_id)
        await conversation.send("written on the plane")
        await conversation.send("and another")

    async with sdk(stack, alice, outbox_path=path) as online, sdk(stack, bob, gateway=1) as bob_client:
        theirs = await bob_client.open(conversation_id)
        mine = await online.open(conversation_id)
        assert [m.status for m in mine.messages()] == [MessageStatus.SENDING] * 2  # restored at once
        await until(theirs, lambda c: bodies(c) == ["written on the plane", "and another"], wait_s=20)
        await until(mine, lambda c: all(m.status != MessageStatus.SENDING for m in c.messages()))
        assert online.queued == 0


async def _state(client: ParleyClient, state: ConnectionState, wait_s: float = 10) -> None:
    async with asyncio.timeout(wait_s):
        if client.state == state:
            return
        async for seen in client.states():
            if seen == state:
                return


async def test_a_rate_limited_rejoin_is_retried_after_its_wait(
    postgres_url: str, user: Callable[[str], str]
) -> None:
    """A reconnect rejoins every conversation at once; those over the join limit are joined
    again after the server's retryAfterMs, not left without live events until the next one."""
    async with serving(postgres_url, rate_limit_room=EventLimit(rate=0.5, burst=2)) as stack:
        alice, bob = user("alice"), user("bob")
        conversations = [await stack.conversation(alice, bob) for _ in range(2)]
        port = int(stack.url.rsplit(":", 1)[1])
        async with (
            FaultyProxy(port).running() as proxy,
            sdk(stack, alice, url=f"http://127.0.0.1:{proxy.port}") as client,
        ):
            chats = [await client.open(c) for c in conversations]  # the whole burst
            proxy.cut()
            await _state(client, ConnectionState.DISCONNECTED)
            await _state(client, ConnectionState.CONNECTED)  # its joins refused: no tokens yet
            for conversation in conversations:
                sent = await stack.http.post(
                    f"/api/conversations/{conversation}/messages",
                    json={"clientMessageId": str(uuid.uuid4()), "body": "after the reconnect"},
                    headers=stack.auth(bob),
                )
                assert sent.status_code == 201
            for chat in chats:
                await until(chat, lambda c: bodies(c) == ["after the reconnect"], wait_s=15)
                assert chat.joined
