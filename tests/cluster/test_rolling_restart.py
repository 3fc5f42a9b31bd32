"""A rolling restart, locally: while two users chat through two gateways, each gateway in
turn gets SIGTERM (drains, exits 0) and comes back. Sends are in flight at each SIGTERM and
acked meanwhile through the other gateway; every client reconnects at each restart; every
acked message reaches both stores exactly once, in order, and no send ends in an error the
SDK could not get past."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Callable

import pytest
from parley_client import ConnectionState, Conversation, LocalMessage, MessageStatus, ParleyClient

from tests.client.conftest import until
from tests.cluster.conftest import Cluster
from tests.support.balancer import failover_balancer
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.timeout(180)
ACKS_PER_PHASE = 10  # per user, before each restart and while each gateway is down


class Typist:
    """One user sending numbered messages at a person's pace until told to stop."""

    def __init__(self, conversation: Conversation, who: str) -> None:
        self.conversation = conversation
        self.who = who
        self.sent: list[LocalMessage] = []
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._chat())

    async def _chat(self) -> None:
        while not self._stop.is_set():
            self.sent.append(await self.conversation.send(f"{self.who} {len(self.sent)}"))
            await asyncio.sleep(0.05)  # pacing of a person typing, not a synchronisation

    @property
    def acked(self) -> int:
        return sum(1 for m in self.sent if m.seq is not None)

    @property
    def typing(self) -> bool:
        return not self._task.done()

    async def acks(self, more: int) -> None:
        """Wait until ``more`` further sends of this user are acked (from now on)."""
        target = self.acked + more
        await until(self.conversation, lambda _: self.acked >= target, wait_s=60)

    async def stop(self) -> None:
        self._stop.set()
        await self._task


def count_connects(client: ParleyClient) -> Callable[[], int]:
    connects = [0]

    def changed(state: ConnectionState) -> None:
        if state == ConnectionState.CONNECTED:
            connects[0] += 1

    client.on_state_change(changed)
    return lambda: connects[0]


async def restart(gateway: ServiceProcess, typists: list[Typist]) -> None:
    """SIGTERM ``gateway`` with the chat running; wait for acks through the other one while
    it is down, then start it again."""
    assert all(t.typing for t in typists), "the chat is still on when the restart begins"
    gateway.signal(signal.SIGTERM)
    await asyncio.gather(*(t.acks(ACKS_PER_PHASE) for t in typists))
    assert await asyncio.to_thread(gateway.wait, 30) == 0, gateway.logs()
    await asyncio.to_thread(gateway.start)


async def test_restarting_each_gateway_in_turn_loses_and_doubles_nothing(cluster: Cluster) -> None:
    suffix = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{suffix}", f"bob-{suffix}"
    conversation_id = await cluster.conversation(alice, bob)
    a, b = cluster.gateways
    front = free_port()
    async with failover_balancer(front, [a.port, b.port]):
        url = f"http://127.0.0.1:{front}"
        async with cluster.sdk(alice, url) as alice_client, cluster.sdk(bob, url) as bob_client:
            connects = [count_connects(alice_client), count_connects(bob_client)]
            await alice_client.wait_connected()
            await bob_client.wait_connected()
            conversations = [await alice_client.open(conversation_id), await bob_client.open(conversation_id)]
            typists = [Typist(conversations[0], "alice"), Typist(conversations[1], "bob")]
            for gateway in (a, b):  # both clients are on A (the balancer's first choice), then on B
                await asyncio.gather(*(t.acks(ACKS_PER_PHASE) for t in typists))
                before = [count() for count in connects]
                await restart(gateway, typists)
                assert all(c() > n for c, n in zip(connects, before, strict=True)), "each client reconnected"
            await asyncio.gather(*(t.acks(ACKS_PER_PHASE) for t in typists))
            for typist in typists:
                await typist.stop()
            total = sum(len(t.sent) for t in typists)
            for conversation in conversations:
                await until(conversation, lambda c: c.store.contiguous_seq == total, wait_s=60)
                await until(conversation, lambda c: all(m.seq for m in c.messages()), wait_s=60)

    for conversation in conversations:
        messages = conversation.messages()
        assert [m.seq for m in messages] == list(range(1, total + 1))
        assert all(m.status != MessageStatus.FAILED for m in messages)
        for typist in typists:
            assert [m.body for m in messages if m.sender_id.startswith(typist.who)] == [
                f"{typist.who} {n}" for n in range(len(typist.sent))
            ]
    assert [m.id for m in conversations[0].messages()] == [m.id for m in conversations[1].messages()]
