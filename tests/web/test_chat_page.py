"""Two people chat in two browser contexts: ticks, typing, presence, the offline queue,
failed sends with a retry, and sign-in problems, all as a person sees them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
import pytest
from playwright.async_api import Browser, WebSocketRoute, expect

from tests.gateway.conftest import TOPOLOGIES
from tests.web.conftest import (
    EXPIRED,
    Server,
    Shot,
    exact,
    member,
    new_page,
    open_conversation,
    send,
    sign_in,
    sign_in_with_token,
)

pytestmark = pytest.mark.timeout(90)  # a browser, two pages, and waits of up to 10 s

READ_BLUE = "rgb(26, 155, 240)"
STORED = re.compile("^(sent|delivered|read)$")
WEBSOCKET_REFUSED = """
window.WebSocket = class extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.readyState = 0;
    setTimeout(() => {
      this.readyState = 3;
      this.onerror?.(new Event("error"));
      this.onclose?.(new CloseEvent("close", { code: 1006 }));
    }, 20);
  }
  send() {}
  close() {}
};
"""
WEBSOCKET_THROWS = """
window.WebSocket = class {
  constructor() {
    throw new DOMException("WebSocket is not allowed here", "SecurityError");
  }
};
"""


@pytest.mark.parametrize("server", TOPOLOGIES, indirect=True)
async def test_ticks_typing_and_presence(
    server: Server, browser: Browser, user: Callable[[str], str], shot: Shot
) -> None:
    alice_id, bob_id = user("alice"), user("bob")
    _, alice = await new_page(browser, server)
    await shot(alice, "sign-in")
    await sign_in(alice, alice_id)

    # Alice starts a conversation from the page and writes while Bob has never connected: ✓.
    await alice.get_by_role("button", name="New").click()
    await alice.get_by_label("With").fill(bob_id)
    await alice.get_by_label("Title").fill("Weekend plans")
    await alice.get_by_role("button", name="Create").click()
    await expect(alice.get_by_role("heading", name="Weekend plans")).to_be_visible()
    await send(alice, "Hi Bob! Are we still on for Saturday?")
    mine = alice.get_by_test_id("message").last
    await expect(mine).to_have_attribute("data-status", "sent")
    await expect(mine.get_by_test_id("ticks")).to_have_attribute("aria-label", "Sent")
    await expect(member(alice, bob_id)).to_have_attribute("data-online", "false")

    # Bob signs in on his phone: his page follows the conversation, so it is delivered (✓✓)
    # before he opens it, and Alice sees him online.
    bob_context, bob = await new_page(browser, server, phone=True, gateway=1)
    await sign_in(bob, bob_id)
    await expect(bob.get_by_test_id("conversation-item")).to_contain_text("Weekend plans")
    await expect(mine).to_have_attribute("data-status", "delivered")
    await expect(mine.get_by_test_id("ticks")).to_have_attribute("aria-label", "Delivered")
    await expect(member(alice, bob_id)).to_have_attribute("data-online", "true")
    await shot(bob, "phone-list")

    # He opens it: read, blue ✓✓.
    await open_conversation(bob, "Weekend plans")
    await expect(mine).to_have_attribute("data-status", "read")
    await expect(mine.get_by_test_id("ticks")).to_have_css("color", READ_BLUE)

    # Bob types: Alice sees it, and it goes 2 s after he stops.
    typing = alice.get_by_test_id("typing")
    await bob.get_by_label("Message", exact=True).press_sequentially("Yes", delay=50)
    await expect(typing).to_have_text(f"{bob_id} is typing…")
    await expect(typing).to_have_text("", timeout=5_000)

    # His reply reaches Alice exactly as he typed it, as text: nothing is parsed as markup.
    await send(bob, "Yes! 10am at the station <b>sharp</b> & bring 2 < 3 snacks <3")
    theirs = alice.get_by_test_id("message").last
    await expect(theirs).to_contain_text("Yes! 10am at the station <b>sharp</b> & bring 2 < 3 snacks <3")
    await expect(theirs.locator(".body b")).to_have_count(0)
    await expect(typing).to_have_text("")
    await expect(bob.get_by_test_id("message").last).to_have_attribute("data-status", "read")

    await send(alice, "Perfect, see you there!")
    await expect(alice.get_by_test_id("message").last).to_have_attribute("data-status", "read")
    await bob.get_by_label("Message", exact=True).press_sequentially("On my way", delay=30)
    await expect(typing).to_have_text(f"{bob_id} is typing…")
    await shot(alice, "chat-desktop")
    await shot(bob, "chat-phone")

    # Bob leaves: his online dot goes out (after the presence grace period).
    await bob_context.close()
    await expect(member(alice, bob_id)).to_have_attribute("data-online", "false", timeout=10_000)


async def test_offline_sends_are_queued_and_delivered_once_in_order(
    server: Server, browser: Browser, user: Callable[[str], str], shot: Shot
) -> None:
    alice_id, bob_id = user("alice"), user("bob")
    conversation = await _conversation(server, alice_id, bob_id, "Road trip")
    alice_context, alice = await new_page(browser, server)
    _, bob = await new_page(browser, server, phone=True)
    for page, user_id in ((alice, alice_id), (bob, bob_id)):
        await sign_in(page, user_id)
        await open_conversation(page, "Road trip")

    await alice_context.set_offline(True)
    connection = alice.get_by_test_id("connection")
    await expect(connection).to_have_attribute("data-state", "disconnected")
    await expect(connection).to_contain_text("Offline")
    bodies = ["Packing the car now", "Leaving in 10", "Bringing snacks"]
    for body in bodies:
        await send(alice, body)
    queued = alice.get_by_test_id("message")
    await expect(queued).to_have_count(3)
    for index in range(3):
        await expect(queued.nth(index)).to_have_attribute("data-status", "sending")
        await expect(queued.nth(index)).to_have_attribute("data-queued", "true")
        await expect(queued.nth(index)).to_contain_text("Queued")
    await expect(alice.get_by_test_id("queue-note")).to_contain_text("3 messages are waiting")
    await shot(alice, "offline-queued")

    await alice_context.set_offline(False)
    await expect(connection).to_have_attribute("data-state", "connected")
    for index in range(3):
        await expect(queued.nth(index)).to_have_attribute("data-status", STORED)
    await expect(bob.get_by_test_id("message").locator(".body")).to_have_text(bodies)
    await expect(alice.get_by_test_id("queue-note")).to_have_count(0)

    stored = await _messages(server, bob_id, conversation)
    assert [m["body"] for m in stored] == bodies
    assert [m["seq"] for m in stored] == [1, 2, 3]
    assert len({m["clientMessageId"] for m in stored}) == 3


async def test_a_failed_send_shows_why_and_retries_by_hand(
    server: Server, browser: Browser, user: Callable[[str], str], shot: Shot
) -> None:
    """The messages service "goes down" for one message: four attempts (1, 2, 4 s apart),
    all with one clientMessageId, then `failed` with a Retry button that sends it once."""
    alice_id, bob_id = user("alice"), user("bob")
    conversation = await _conversation(server, alice_id, bob_id, "Flaky day")
    context, alice = await new_page(browser, server)
    attempts: list[str] = []
    down = True

    async def gateway(ws: WebSocketRoute) -> None:
        upstream = ws.connect_to_server()

        def from_page(frame: str | bytes) -> None:
            send = re.match(r'^42(\d+)\["message:send",', frame) if isinstance(frame, str) else None
            if down and send is not None:
                _, payload = json.loads(frame[2 + len(send.group(1)) :])
                attempts.append(payload["clientMessageId"])
                error = {"code": "unavailable", "message": "the messages service is down"}
                ws.send(f"43{send.group(1)}" + json.dumps([{"ok": False, "error": error}]))
            else:
                upstream.send(frame)

        ws.on_message(from_page)
        upstream.on_message(ws.send)

    await context.route_web_socket(re.compile(r".*/socket\.io/.*"), gateway)
    await alice.reload()  # the route is installed into pages as they load
    await sign_in(alice, alice_id)
    await open_conversation(alice, "Flaky day")

    await send(alice, "Did this arrive?")
    message = alice.get_by_test_id("message").last
    await expect(message).to_have_attribute("data-status", "sending")
    await expect(message).to_have_attribute("data-status", "failed", timeout=15_000)
    failure = message.get_by_test_id("send-failure")
    await expect(failure).to_contain_text("Not sent: the server is unavailable")
    await shot(alice, "send-failed")
    assert len(attempts) == 4
    assert len(set(attempts)) == 1

    down = False
    await failure.get_by_role("button", name="Retry").click()
    await expect(message).to_have_attribute("data-status", STORED)
    await expect(alice.get_by_test_id("send-failure")).to_have_count(0)
    stored = await _messages(server, bob_id, conversation)
    assert [(m["body"], m["clientMessageId"]) for m in stored] == [("Did this arrive?", attempts[0])]


@pytest.mark.parametrize("websocket", [WEBSOCKET_REFUSED, WEBSOCKET_THROWS], ids=["refused", "throws"])
async def test_without_websocket_the_page_falls_back_to_long_polling(
    server: Server, browser: Browser, user: Callable[[str], str], websocket: str
) -> None:
    """REQUIREMENTS 3.5.2: where WebSocket cannot open, the page chats over HTTP polling: a
    proxy refusing the upgrade (an `error`, then a `close` 1006, as browsers report it), or a
    page or browser where the constructor itself throws (engine.io-client lost that error and
    hung until its timeout, then again, forever)."""
    alice_id, bob_id = user("alice"), user("bob")
    await _conversation(server, alice_id, bob_id, "Behind a proxy")
    context, alice = await new_page(browser, server)
    await context.add_init_script(websocket)
    requests: list[str] = []
    alice.on("request", lambda request: requests.append(request.url))
    await alice.reload()
    await sign_in(alice, alice_id)
    await open_conversation(alice, "Behind a proxy")
    await send(alice, "sent over long-polling")
    await expect(alice.get_by_test_id("message").last).to_have_attribute("data-status", "sent")
    assert any("/socket.io/" in url and "transport=polling" in url for url in requests)


async def test_an_expired_token_says_so(
    server: Server, browser: Browser, user: Callable[[str], str], shot: Shot
) -> None:
    _, page = await new_page(browser, server)
    await sign_in_with_token(page, server.token(user("alice"), ttl_s=-60))

    problem = page.get_by_test_id("sign-in-problem")
    await expect(problem).to_have_text(exact(EXPIRED))
    await expect(page.get_by_label("Your name")).to_be_visible()
    await shot(page, "token-expired")

    await sign_in_with_token(page, "not-a-token")
    await expect(problem).to_contain_text("That is not a valid token")


async def test_a_session_that_expires_while_connected_ends_with_a_clear_message(
    server: Server, browser: Browser, user: Callable[[str], str]
) -> None:
    """The server drops the socket at `exp` (auth:expired); the retry is refused: back to sign-in."""
    _, page = await new_page(browser, server)
    await sign_in_with_token(page, server.token(user("alice"), ttl_s=3))
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "connected")

    problem = page.get_by_test_id("sign-in-problem")
    await expect(problem).to_have_text(exact(EXPIRED), timeout=15_000)


async def _conversation(server: Server, owner: str, other: str, title: str) -> str:
    async with httpx.AsyncClient(base_url=server.url) as http:
        answer = await http.post(
            "/api/conversations",
            json={"memberIds": [other], "title": title},
            headers={"Authorization": f"Bearer {server.token(owner)}"},
        )
        assert answer.status_code == 201, answer.text
        conversation_id: str = answer.json()["id"]
        return conversation_id


async def _messages(server: Server, user_id: str, conversation_id: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=server.url) as http:
        answer = await http.get(
            f"/api/conversations/{conversation_id}/messages",
            headers={"Authorization": f"Bearer {server.token(user_id)}"},
        )
        assert answer.status_code == 200, answer.text
        messages: list[dict[str, object]] = answer.json()["messages"]
        return messages
