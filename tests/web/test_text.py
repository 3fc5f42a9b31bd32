"""The chat page shows exactly what was typed (PROTOCOL §4.2: escaped on the wire, decoded by
the SDK, rendered as text), and isolates names and bodies from bidi reordering."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.async_api import Browser, expect

from tests.web.conftest import Server, new_page, open_conversation, send, sign_in
from tests.web.test_chat_page import _conversation, _messages

pytestmark = pytest.mark.timeout(90)

TYPED = [
    "if a<b then swap",
    "Vector<int> v; use <div> for layout",
    "AT&T and &lt; typed literally, &amp; too",
    "<script>alert(1)</script>",
    "I <3 emoji 😀👍🏽 and שלום <עולם>",
    "line one\n\tline two",
]


async def test_the_page_shows_what_was_typed(
    server: Server, browser: Browser, user: Callable[[str], str]
) -> None:
    alice_id, bob_id = user("alice"), user("bob")
    title = "R&D <weekly> & co"
    conversation_id = await _conversation(server, alice_id, bob_id, title)
    _, alice = await new_page(browser, server)
    _, bob = await new_page(browser, server)
    await sign_in(alice, alice_id)
    await sign_in(bob, bob_id)
    await open_conversation(alice, title)
    await open_conversation(bob, title)

    for text in TYPED:
        await send(alice, text)
    await expect(alice.get_by_test_id("message")).to_have_count(len(TYPED))
    await expect(bob.get_by_test_id("message")).to_have_count(len(TYPED))

    for page in (alice, bob):
        bodies = page.get_by_test_id("message").locator(".body")
        shown = [await bodies.nth(n).text_content() for n in range(len(TYPED))]
        assert shown == TYPED  # the sender's (optimistic, then confirmed) and the receiver's
        await expect(page.locator(".body script, .body div, .body b")).to_have_count(0)
        await expect(page.get_by_role("heading", name=title)).to_be_visible()
    await expect(bob.get_by_test_id("conversation-item").first).to_contain_text(TYPED[-1].split("\n")[0])
    stored = await _messages(server, bob_id, conversation_id)
    assert stored[0]["body"] == "if a&lt;b then swap"  # escaped on the wire, once


async def test_names_and_bodies_are_isolated_from_bidi_reordering(
    server: Server, browser: Browser, user: Callable[[str], str]
) -> None:
    alice_id, bob_id = user("alice"), user("bob")
    await _conversation(server, bob_id, alice_id, "Bidi")
    _, alice = await new_page(browser, server)
    _, bob = await new_page(browser, server)
    await sign_in(alice, alice_id)
    await sign_in(bob, bob_id)
    await open_conversation(bob, "Bidi")
    await send(bob, "\u202eevil override")
    await send(bob, "שלום עולם")
    await open_conversation(alice, "Bidi")
    messages = alice.get_by_test_id("message")
    await expect(messages).to_have_count(2)

    # The browser resolves direction per isolate: the body's override ends with its element.
    for n in range(2):
        body = messages.nth(n).locator(".body")
        await expect(body).to_have_attribute("dir", "auto")
        assert await body.evaluate("e => getComputedStyle(e).unicodeBidi") == "isolate"
    sender = messages.first.locator(".sender")
    assert await sender.evaluate("e => e.tagName") == "BDI"
    assert await messages.nth(1).locator(".body").evaluate("e => getComputedStyle(e).direction") == "rtl"
    for name in (alice.get_by_test_id("me"), alice.get_by_test_id("member").locator("bdi")):
        assert await name.evaluate("e => getComputedStyle(e).unicodeBidi") == "isolate"
