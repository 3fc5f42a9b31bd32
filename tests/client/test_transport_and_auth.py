"""The Python SDK at PROTOCOL §6 parity: WebSocket first, then long-polling on its own; a
refused token is a state with its code, not an endless "connecting"; conversation:leave."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from parley_client import AuthError, ConnectionState, ParleyClient

from parley_common.auth import mint_token
from tests.client.conftest import bodies, sdk, until
from tests.gateway.conftest import Stack, gateway_settings
from tests.support.faulty_proxy import proxy_to

OTHER_KEY = gateway_settings(jwt_secret="another-secret-of-decent-length")


def expired_token(stack: Stack, user_id: str) -> str:
    return mint_token(stack.settings.gateway, user_id, ttl_s=-5)[0]


def wrong_key_token(_: Stack, user_id: str) -> str:
    return mint_token(OTHER_KEY, user_id)[0]


async def state_reached(client: ParleyClient, state: ConnectionState, wait_s: float = 15) -> None:
    async with asyncio.timeout(wait_s):
        states = client.states()
        if client.state != state:
            async for seen in states:
                if seen == state:
                    break


async def test_behind_a_proxy_that_refuses_websocket_it_connects_by_polling_and_chats(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob, conversation_id = await stack.pair(user)
    async with proxy_to(stack.url) as (proxy, behind):
        proxy.refuse_websocket_upgrades()
        async with sdk(stack, alice, url=behind) as alice_client, sdk(stack, bob) as bob_client:
            await alice_client.wait_connected()
            assert alice_client.transport == "polling"
            assert proxy.refused_upgrades >= 1  # WebSocket was tried first
            assert bob_client.transport == "websocket"

            mine = await alice_client.open(conversation_id)
            theirs = await bob_client.open(conversation_id)
            await mine.send("through the proxy: a<b")
            await until(theirs, lambda c: [m.text for m in c.messages()] == ["through the proxy: a<b"])
            await theirs.send("and back")
            await until(mine, lambda c: bodies(c) == ["through the proxy: a&lt;b", "and back"])
            await until(mine, lambda c: c.messages()[0].status.value == "delivered")


async def test_a_forced_transport_is_the_only_one_used(stack: Stack, user: Callable[[str], str]) -> None:
    alice = user("alice")
    only_polling = sdk(stack, alice, transport="polling")
    async with only_polling as polling, sdk(stack, alice, transport="websocket") as ws:
        await polling.wait_connected()
        await ws.wait_connected()
        assert (polling.transport, ws.transport) == ("polling", "websocket")
    with pytest.raises(ValueError, match="transport"):
        ParleyClient(stack.url, token_provider=None, transport="carrier-pigeon")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make_token", "code"),
    [(expired_token, "auth_expired"), (wrong_key_token, "auth_invalid")],
    ids=["expired", "wrong-key"],
)
async def test_a_refused_token_reaches_the_app_as_its_code(
    stack: Stack, user: Callable[[str], str], make_token: Callable[[Stack, str], str], code: str
) -> None:
    alice = user("alice")
    asked = 0

    async def tokens() -> str:
        nonlocal asked
        asked += 1
        return make_token(stack, alice)

    client = ParleyClient(stack.url, token_provider=tokens)
    await client.start()
    try:
        with pytest.raises(AuthError) as refused:
            await asyncio.wait_for(client.wait_connected(), 15)
        assert refused.value.code == code
        assert client.state == ConnectionState.UNAUTHORIZED
        assert client.auth_error is not None and client.auth_error.code == code
        assert asked >= 3  # once at start, then before each of the two refused attempts
    finally:
        await client.close()


async def test_after_unauthorized_a_good_token_connects(stack: Stack, user: Callable[[str], str]) -> None:
    alice = user("alice")
    good = False

    async def tokens() -> str:
        return stack.token(alice) if good else wrong_key_token(stack, alice)

    client = ParleyClient(stack.url, token_provider=tokens)
    await client.start()
    try:
        await state_reached(client, ConnectionState.UNAUTHORIZED)
        good = True  # the user signed in again
        client.reconnect_now()
        await state_reached(client, ConnectionState.CONNECTED, wait_s=10)
        assert client.auth_error is None
    finally:
        await client.close()


async def test_leave_stops_the_conversations_events(stack: Stack, user: Callable[[str], str]) -> None:
    alice, bob, left_id = await stack.pair(user)
    kept_id = await stack.conversation(bob, alice)
    async with sdk(stack, alice) as client:
        await client.wait_connected()
        left = await client.open(left_id)
        kept = await client.open(kept_id)
        typing_watcher = await stack.joined(bob, left_id)
        left.keystroke()
        assert (await typing_watcher.next("typing:start"))["userId"] == alice

        await client.leave(left_id)

        assert (await typing_watcher.next("typing:stop"))["userId"] == alice  # leaving stops typing
        assert left_id not in client.conversations
        await stack.post_message(bob, left_id, "after the leave")
        await stack.post_message(bob, kept_id, "barrier")
        await until(kept, lambda c: bodies(c) == ["barrier"])
        assert bodies(left) == []
