"""The terminal chat and the script commands, driven like a person would (Textual's pilot)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable

from parley_client.tui import ChatApp
from textual.widgets import Static

from tests.client.conftest import bodies, sdk, until
from tests.gateway.conftest import Stack


def shown(app: ChatApp, widget: str) -> str:
    return str(app.query_one(widget, Static).render())


async def test_chatting_in_the_terminal(stack: Stack, user: Callable[[str], str]) -> None:
    alice, bob, conversation_id = await stack.pair(user)
    async with sdk(stack, alice) as alice_client, sdk(stack, bob) as bob_client:
        theirs = await bob_client.open(conversation_id)
        app = ChatApp(alice_client, conversation_id)
        async with app.run_test() as pilot:
            await alice_client.wait_connected()
            await pilot.press(*"hi <b>bob</b>", "enter")
            await until(theirs, lambda c: bodies(c) == ["hi bob"])  # sanitized by the server
            assert app.conversation is not None
            await until(app.conversation, lambda c: c.messages()[0].status.value == "delivered")
            await pilot.pause()
            assert "you: hi bob  ✓✓" in shown(app, "#messages")
            assert "connected" in shown(app, "#state")

            theirs.keystroke()
            await until(app.conversation, lambda c: bool(c.typing.typing_users))
            await pilot.pause()
            assert f"{bob} is typing" in shown(app, "#people")
            assert f"● {bob}" in shown(app, "#people")


async def test_parley_token_and_send_for_scripts(stack: Stack, user: Callable[[str], str]) -> None:
    alice, _, conversation_id = await stack.pair(user)
    # The embedded stack of the tests has DEV_MODE off: give the token, as a script would.
    command = [sys.executable, "-m", "parley_launcher", "send", "--url", stack.url]
    command += ["--token", stack.token(alice), "--conversation", conversation_id, "--body", "from a script"]
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    output, _ = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 0
    assert json.loads(output)["seq"] == 1
    history = await stack.http.get(
        f"/api/conversations/{conversation_id}/messages", headers=stack.auth(alice)
    )
    assert [m["body"] for m in history.json()["messages"]] == ["from a script"]
