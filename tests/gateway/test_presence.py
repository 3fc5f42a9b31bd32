"""Presence through the embedded default: user:online / user:offline, and the online flags."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from tests.gateway.conftest import TOPOLOGIES, Stack, serving, topology

GRACE_MS = 300
# Long enough for a reconnect on a loaded 2-core machine, where a new socket and its join
# may take over a second: the test must not depend on the machine being quick.
WIDE_GRACE_MS = 3000


@pytest.fixture
async def quick(request: pytest.FixtureRequest, postgres_url: str) -> AsyncIterator[Stack]:
    """A short grace period (in production, the cluster's: 0.5 s)."""
    async with topology(request, postgres_url, presence={"presence_grace_ms": GRACE_MS}) as stack:
        yield stack


@pytest.fixture
async def wide(postgres_url: str) -> AsyncIterator[Stack]:
    async with serving(postgres_url, presence={"presence_grace_ms": WIDE_GRACE_MS}) as stack:
        yield stack


@pytest.mark.parametrize("quick", TOPOLOGIES, indirect=True)
async def test_online_once_per_user_offline_when_the_last_device_goes(
    quick: Stack, user: Callable[[str], str]
) -> None:
    stack = quick
    alice, bob, conversation = await stack.pair(user)
    watcher = await stack.joined(bob, conversation)
    assert (await watcher.next("user:online"))["userId"] == bob  # its own, allowed by §4.4

    phone = await stack.joined(alice, conversation)
    online = await watcher.next("user:online")
    assert (online["userId"], online["conversationId"]) == (alice, conversation)
    assert online["at"].endswith("Z")
    laptop = await stack.joined(alice, conversation, gateway=1)
    detail = await stack.http.get(f"/api/conversations/{conversation}", headers=stack.auth(bob))
    assert {m["userId"]: m["online"] for m in detail.json()["members"]} == {alice: True, bob: True}

    await phone.close()
    await laptop.call("conversation:leave", {"conversationId": conversation})

    offline = await watcher.next("user:offline")
    assert offline["userId"] == alice
    assert watcher.pending("user:online") == []  # the second device announced nothing
    joined = await watcher.call("conversation:join", {"conversationId": conversation})
    assert {m["userId"]: m["online"] for m in joined["members"]} == {alice: False, bob: True}


async def test_a_quick_reconnect_does_not_flicker(wide: Stack, user: Callable[[str], str]) -> None:
    stack = wide
    alice, bob, carol = user("alice"), user("bob"), user("carol")
    conversation = await stack.conversation(alice, bob, carol)
    watcher = await stack.joined(bob, conversation)
    first = await stack.joined(alice, conversation)
    leaving = await stack.joined(carol, conversation)
    assert {(await watcher.next("user:online"))["userId"] for _ in range(3)} == {alice, bob, carol}
    loop = asyncio.get_running_loop()

    await first.close()
    dropped_at = loop.time()
    await leaving.close()  # carol really goes, just after alice dropped
    await stack.joined(alice, conversation)  # alice is back within the grace period
    assert loop.time() - dropped_at < WIDE_GRACE_MS / 1000, "alice was not back within the grace period"

    # Carol's offline is due after alice's would have been: once it is here, alice's is not coming.
    offline = await watcher.next("user:offline", wait_s=WIDE_GRACE_MS / 1000 + 10)
    assert offline["userId"] == carol
    assert watcher.pending("user:offline") == [] and watcher.pending("user:online") == []
