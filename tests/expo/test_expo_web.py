"""The Expo app, built for the web, chats with a user of the Python SDK across the production
topology: messages both ways, ticks up to blue, typing, online dots, three sends while the
browser is offline, and a trip to the background and back (AppState, from the page's
visibility) that reconnects and catches up at once."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from parley_client import Conversation
from playwright.async_api import BrowserContext, Page, expect

from tests.client.conftest import until
from tests.cluster.conftest import Cluster
from tests.web.conftest import Shot

pytestmark = pytest.mark.timeout(120)  # four processes, a browser, presence grace periods

READ_BLUE = "rgb(29, 155, 240)"
STORED = re.compile("^(Sent|Delivered|Read)$")
# react-native-web's AppState is the page's visibility: these make the page look hidden or
# shown to it and announce the change, as a phone's app switcher would.
TO_BACKGROUND = """() => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  document.dispatchEvent(new Event("visibilitychange"));
}"""
TO_FOREGROUND = """() => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "visible" });
  const at = performance.now();
  document.dispatchEvent(new Event("visibilitychange"));
  return at;
}"""
# Resolves (polled every animation frame) with the time the page first shows `text`.
SHOWS = """(text) => [...document.querySelectorAll('[data-testid="message-text"]')]
  .some((node) => node.textContent === text) && performance.now()"""
CONNECTED = (
    """() => document.querySelector('[data-testid="connection-connected"]') !== null && performance.now()"""
)
# Before the app loads: note when the page opens a WebSocket or makes a request (performance.now()).
NETWORK_LOG = """
window.__network = [];
const PageWebSocket = window.WebSocket;
window.WebSocket = class extends PageWebSocket {
  constructor(...args) {
    super(...args);
    window.__network.push(performance.now());
  }
};
const pageFetch = window.fetch;
window.fetch = (...args) => {
  window.__network.push(performance.now());
  return pageFetch(...args);
};
"""


def texts(conversation: Conversation) -> list[str]:
    return [m.text for m in conversation.messages()]


async def send(page: Page, text: str) -> None:
    composer = page.get_by_label("Message", exact=True)
    await composer.fill(text)
    await composer.press("Enter")
    await expect(composer).to_have_value("")


async def test_the_expo_app_chats_with_the_python_sdk(
    topology: Cluster,
    phone: tuple[BrowserContext, Page],
    user: Callable[[str], str],
    shot: Shot,
    record_property: Callable[[str, object], None],
) -> None:
    context, page = phone
    await page.add_init_script(NETWORK_LOG)
    await page.reload()
    alice_id, bob_id = user("alice"), user("bob")
    origin = topology.gateways[0].url
    conversation_id = await topology.conversation(bob_id, alice_id)

    # Alice signs in by name on the app (the server is in DEV_MODE).
    await expect(page.get_by_label("Server")).to_be_visible()
    await page.get_by_label("Server").fill(origin)
    await page.get_by_label("Your name").fill(alice_id)
    await shot(page, "expo-sign-in")
    async with page.expect_websocket(lambda socket: "/socket.io/" in socket.url) as opened:
        await page.get_by_role("button", name="Sign in", exact=True).click()
    await (await opened.value).wait_for_event("framereceived")  # on WebSocket, not long-polling
    await expect(page.get_by_test_id("connection-connected")).to_be_attached()
    await expect(page.get_by_test_id("conversation-item")).to_contain_text(bob_id)
    await shot(page, "expo-conversations")

    await page.get_by_test_id("conversation-item").first.click()

    # Bob is on the Python SDK, through the other gateway.
    async with topology.sdk(bob_id, topology.gateways[1].url) as bob_client:
        bob = await bob_client.open(conversation_id)
        await expect(page.get_by_test_id(f"member-{bob_id}")).to_have_attribute(
            "aria-label", f"{bob_id} online"
        )
        await until(bob, lambda c: alice_id in c.online_users)

        # Alice → Bob: ✓ once stored, ✓✓ once his SDK has it, blue ✓✓ once he read it.
        await send(page, "Hello from the Expo app")
        await until(bob, lambda c: texts(c) == ["Hello from the Expo app"])
        mine = page.get_by_test_id("message").last.get_by_test_id("ticks")
        await expect(mine).to_have_attribute("aria-label", "Delivered")
        await expect(mine).to_have_text("✓✓")
        await bob.mark_read()
        await expect(mine).to_have_attribute("aria-label", "Read")
        await expect(mine).to_have_css("color", READ_BLUE)

        # Bob → Alice: shown as text, and read because it is on her screen.
        await send_from(bob, "Hi Alice <3, from Python & the other gateway")
        await expect(page.get_by_test_id("message-text").last).to_have_text(
            "Hi Alice <3, from Python & the other gateway"
        )
        await until(bob, lambda c: c.messages()[-1].status.value == "read")

        # Typing, both ways.
        bob.keystroke()
        await expect(page.get_by_test_id("typing")).to_have_text(f"{bob_id} is typing…")
        bob.stop_typing()
        await expect(page.get_by_test_id("typing")).to_have_text("")
        await page.get_by_label("Message", exact=True).press_sequentially("typ", delay=30)
        await until(bob, lambda c: alice_id in c.typing.typing_users)
        await page.get_by_label("Message", exact=True).fill("")
        await shot(page, "expo-conversation")

        # A send the server refuses (over 4000 characters): "Not sent" with the reason, and Retry.
        await send(page, "x" * 4001)
        refused = page.get_by_test_id("failed")
        await expect(refused).to_contain_text("Not sent:")
        await page.get_by_role("button", name="Retry").click()
        await expect(refused).to_contain_text("Not sent:")
        await shot(page, "expo-failed")

        # Offline: three sends queued, shown as such, then delivered once and in order.
        await context.set_offline(True)
        await expect(page.get_by_test_id("connection-disconnected")).to_be_attached()
        queued = ["Queued one", "Queued two", "Queued three"]
        for text in queued:
            await send(page, text)
        for index in range(3):
            ticks = page.get_by_test_id("ticks").nth(index + 1)
            await expect(ticks).to_have_attribute("aria-label", "Queued")
        await shot(page, "expo-offline-queued")
        await context.set_offline(False)
        await expect(page.get_by_test_id("connection-connected")).to_be_attached()
        await until(bob, lambda c: [m.text for m in c.messages() if m.sender_id == alice_id][1:] == queued)
        for index in range(3):
            await expect(page.get_by_test_id("ticks").nth(index + 1)).to_have_attribute("aria-label", STORED)

        # The background: the socket closes (Bob sees her go offline) and what Bob writes
        # meanwhile is on her screen as soon as she is back, without a backoff wait.
        await page.evaluate(TO_BACKGROUND)
        await expect(page.get_by_test_id("connection-disconnected")).to_be_attached()
        await until(bob, lambda c: alice_id not in c.online_users)
        await send_from(bob, "Written while you were away")
        foreground_at = await page.evaluate(TO_FOREGROUND)
        connected_at = await page.wait_for_function(CONNECTED, polling="raf")
        shown_at = await page.wait_for_function(SHOWS, arg="Written while you were away", polling="raf")
        first_request_at = min(t for t in await page.evaluate("window.__network") if t >= foreground_at)
        timings = {
            "first_request": first_request_at - foreground_at,
            "connected": await connected_at.json_value() - foreground_at,
            "caught_up": await shown_at.json_value() - foreground_at,
        }
        for name, ms in timings.items():
            record_property(f"expo_foreground_to_{name}_ms", round(ms))
        print("foreground ->", ", ".join(f"{name}: {ms:.0f} ms" for name, ms in timings.items()))
        # At once: a reconnect after the backoff would wait 1 s (±50%) before its first request.
        assert timings["first_request"] < 250, timings
        await until(bob, lambda c: alice_id in c.online_users)

    # Every message once, in order, in the server's log.
    stored = [m["body"] for m in await topology_messages(topology, bob_id, conversation_id)]
    assert stored == [
        "Hello from the Expo app",
        "Hi Alice &lt;3, from Python &amp; the other gateway",
        *queued,
        "Written while you were away",
    ]


async def send_from(conversation: Conversation, text: str) -> None:
    """Send as Bob and wait until the server stored it."""
    message = await conversation.send(text)
    key = message.client_message_id
    await until(
        conversation, lambda c: any(m.client_message_id == key and m.seq is not None for m in c.messages())
    )


async def topology_messages(topology: Cluster, user_id: str, conversation_id: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=topology.messages.url) as http:
        answer = await http.get(
            f"/api/conversations/{conversation_id}/messages",
            headers={"Authorization": f"Bearer {topology.token(user_id)}"},
        )
    assert answer.status_code == 200, answer.text
    messages: list[dict[str, object]] = answer.json()["messages"]
    return messages
