"""The terminal chat and the script commands, driven like a person would (Textual's pilot)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable

import pytest
from parley_client import ConnectionState, MessageStatus, ParleyClient
from parley_client.clock import FakeClock
from parley_client.tui import FSI, PDI, ChatApp
from rich.text import Text
from textual import events
from textual.widgets import Static

from parley_common.auth import mint_token
from tests.client.conftest import sdk, until
from tests.client.test_transport_and_auth import state_reached
from tests.gateway.conftest import Stack
from tests.support.faulty_proxy import proxy_to

TYPED = "if a<b then swap & keep &lt;tags&gt; <3"


def shown(app: ChatApp, widget: str) -> str:
    return str(app.query_one(widget, Static).render())


def tick(app: ChatApp) -> tuple[str, str]:
    """The mark after the last message on screen, and its style."""
    content = app.query_one("#messages", Static).content
    assert isinstance(content, Text)
    last = content.spans[-1]
    return content.plain[last.start : last.end].strip(), str(last.style)


def texts(conversation: object) -> list[str]:
    return [m.text for m in conversation.messages()]  # type: ignore[attr-defined]


async def test_what_was_typed_is_what_everyone_sees(stack: Stack, user: Callable[[str], str]) -> None:
    alice, bob, conversation_id = await stack.pair(user)
    async with sdk(stack, alice) as alice_client, sdk(stack, bob) as bob_client:
        theirs = await bob_client.open(conversation_id)
        app = ChatApp(alice_client, conversation_id)
        async with app.run_test() as pilot:
            await alice_client.wait_connected()
            await pilot.press(*TYPED, "enter")
            await until(theirs, lambda c: texts(c) == [TYPED])
            assert app.conversation is not None
            await until(app.conversation, lambda c: c.messages()[0].status == MessageStatus.DELIVERED)
            await pilot.pause()
            assert f"you: {FSI}{TYPED}{PDI}  ✓✓" in shown(app, "#messages")
            assert "connected" in shown(app, "#state")

            await theirs.send("\u202ereversed by a control")  # a bidi override in a body
            await until(app.conversation, lambda c: len(c.messages()) == 2)
            await pilot.pause()
            assert f"{FSI}{bob}{PDI}: {FSI}\u202ereversed by a control{PDI}" in shown(app, "#messages")

            theirs.keystroke()
            await until(app.conversation, lambda c: bool(c.typing.typing_users))
            await pilot.pause()
            assert f"{FSI}{bob}{PDI} is typing" in shown(app, "#people")
            assert f"● {FSI}{bob}{PDI}" in shown(app, "#people")


async def test_ticks_go_sent_delivered_read(stack: Stack, user: Callable[[str], str]) -> None:
    alice, bob, conversation_id = await stack.pair(user)
    async with sdk(stack, alice) as alice_client:
        app = ChatApp(alice_client, conversation_id)
        async with app.run_test() as pilot:
            await alice_client.wait_connected()
            await pilot.press(*"are you there?", "enter")
            assert app.conversation is not None
            await until(app.conversation, lambda c: c.messages()[0].status == MessageStatus.SENT)
            await pilot.pause()
            assert tick(app) == ("✓", "grey62")  # bob is offline: stored, not delivered

            async with sdk(stack, bob) as bob_client:
                theirs = await bob_client.open(conversation_id)  # delivers what it syncs
                await until(app.conversation, lambda c: c.messages()[0].status == MessageStatus.DELIVERED)
                await pilot.pause()
                assert tick(app) == ("✓✓", "grey62")

                await theirs.mark_read()
                await until(app.conversation, lambda c: c.messages()[0].status == MessageStatus.READ)
                await pilot.pause()
                assert tick(app) == ("✓✓", "bold dodger_blue1")


async def test_a_failed_send_shows_why_and_ctrl_r_sends_it_once(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob, conversation_id = await stack.pair(user)
    clock = FakeClock()  # the SDK's ack waits and retries; the link and the server are real
    async with proxy_to(stack.url) as (proxy, behind), sdk(stack, bob) as bob_client:
        theirs = await bob_client.open(conversation_id)
        async with sdk(stack, alice, url=behind, clock=clock) as alice_client:
            app = ChatApp(alice_client, conversation_id)
            async with app.run_test() as pilot:
                await alice_client.wait_connected()
                assert app.conversation is not None
                proxy.blackhole()  # nothing gets through and nobody is told
                await pilot.press(*TYPED, "enter")
                await clock.advance(5 + 1 + 5 + 2 + 5 + 4 + 5)  # four unanswered attempts
                await until(app.conversation, lambda c: c.messages()[0].status == MessageStatus.FAILED)
                await pilot.pause()
                assert "✗ not sent: unavailable: no answer in 5 s · Ctrl+R retries" in shown(app, "#messages")

                proxy.heal()
                proxy.cut()  # the dead link closes; the next one is fine
                await state_reached(alice_client, ConnectionState.DISCONNECTED)
                await clock.advance(2)  # the reconnect backoff
                await state_reached(alice_client, ConnectionState.CONNECTED)
                await pilot.press("ctrl+r", "ctrl+r")  # the second press finds it on its way
                await until(theirs, lambda c: texts(c) == [TYPED])
                await until(app.conversation, lambda c: c.messages()[0].status == MessageStatus.DELIVERED)
                await pilot.pause()
                assert tick(app) == ("✓✓", "grey62")

    history = await stack.http.get(f"/api/conversations/{conversation_id}/messages", headers=stack.auth(bob))
    assert [m["body"] for m in history.json()["messages"]] == [
        "if a&lt;b then swap &amp; keep &amp;lt;tags&amp;gt; &lt;3"  # stored once, escaped once
    ]


async def test_a_refused_token_says_so_and_what_to_do(stack: Stack, user: Callable[[str], str]) -> None:
    alice, _, conversation_id = await stack.pair(user)

    async def expired() -> str:
        return mint_token(stack.settings.gateway, alice, ttl_s=-1)[0]

    client = ParleyClient(stack.url, token_provider=expired)
    await client.start()
    try:
        app = ChatApp(client, conversation_id, how_to_sign_in="Run parley chat with a new --token.")
        async with app.run_test() as pilot:
            await state_reached(client, ConnectionState.UNAUTHORIZED)
            await pilot.pause()
            state = shown(app, "#state")
            assert "session expired / token refused: auth_expired" in state
            assert "Run parley chat with a new --token." in state
    finally:
        await client.close()


async def test_messages_are_marked_read_only_while_the_terminal_is_in_use(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob, conversation_id = await stack.pair(user)

    async def alice_watermarks() -> tuple[int, int]:
        answer = await stack.http.get(f"/api/conversations/{conversation_id}", headers=stack.auth(alice))
        me = next(m for m in answer.json()["members"] if m["userId"] == alice)
        return me["lastDeliveredSeq"], me["lastReadSeq"]

    async with sdk(stack, alice) as alice_client, sdk(stack, bob) as bob_client:
        theirs = await bob_client.open(conversation_id)
        app = ChatApp(alice_client, conversation_id)
        async with app.run_test() as pilot:
            await alice_client.wait_connected()
            assert app.conversation is not None
            app.post_message(events.AppBlur())  # alice switched to another window
            await pilot.pause()
            assert not app.in_use

            await theirs.send("are you there?")
            await until(theirs, lambda c: c.messages()[0].status == MessageStatus.DELIVERED)
            await pilot.pause()
            await app.workers.wait_for_complete()  # a read, if one were sent, is acked by now
            assert await alice_watermarks() == (1, 0)
            assert "are you there?" in shown(app, "#messages")  # on screen, but nobody looked

            app.post_message(events.AppFocus())  # she is back
            await until(theirs, lambda c: c.messages()[0].status == MessageStatus.READ)
            assert await alice_watermarks() == (1, 1)


async def test_a_terminal_left_alone_is_away(stack: Stack, user: Callable[[str], str]) -> None:
    alice, _, conversation_id = await stack.pair(user)
    now = [0.0]
    async with sdk(stack, alice) as alice_client:
        app = ChatApp(alice_client, conversation_id, now=lambda: now[0])
        async with app.run_test() as pilot:
            assert app.in_use
            now[0] = 119.0
            assert app.in_use
            now[0] = 121.0  # two minutes without a key or a click
            assert not app.in_use
            await pilot.press("x")
            assert app.in_use


@pytest.mark.parametrize("modes", [[], ["--messages", "http", "--typing", "off", "--presence", "http"]])
async def test_parley_token_and_send_for_scripts(
    stack: Stack, user: Callable[[str], str], modes: list[str]
) -> None:
    alice, _, conversation_id = await stack.pair(user)
    # The embedded stack of the tests has DEV_MODE off: give the token, as a script would.
    command = [sys.executable, "-m", "parley_launcher", "send", "--url", stack.url, *modes]
    command += ["--token", stack.token(alice), "--conversation", conversation_id, "--body", "from a <script>"]
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    output, _ = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 0
    assert json.loads(output)["seq"] == 1
    history = await stack.http.get(
        f"/api/conversations/{conversation_id}/messages", headers=stack.auth(alice)
    )
    assert [m["body"] for m in history.json()["messages"]] == ["from a &lt;script&gt;"]


async def test_parley_send_with_a_refused_token_says_why(stack: Stack, user: Callable[[str], str]) -> None:
    alice, _, conversation_id = await stack.pair(user)
    expired = mint_token(stack.settings.gateway, alice, ttl_s=-1)[0]
    command = [sys.executable, "-m", "parley_launcher", "send", "--url", stack.url, "--token", expired]
    command += ["--conversation", conversation_id, "--body", "too late"]
    process = await asyncio.create_subprocess_exec(*command, stderr=asyncio.subprocess.PIPE)
    _, errors = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 1
    assert "token refused: auth_expired" in errors.decode()
