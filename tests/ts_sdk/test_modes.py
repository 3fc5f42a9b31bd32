"""The TypeScript SDK's per-feature modes (PROTOCOL §7) against the embedded default, for real:
Node runs the built SDK (clients/ts/dist) beside a Python user on the same conversation.

- Each mode the app can choose (all socket, all HTTP polling, mixed) chats both ways, reaches
  read receipts, and shows presence and typing as that mode says.
- The operator's ceiling comes from the server's real ``GET /api/client-config``: restarting the
  server with ``CLIENT_MESSAGES=http`` and back (the operator's rollout) moves the client to HTTP
  and back mid-session, and its store holds every message once, in seq order.
- A client whose socket cannot be opened at all (a proxy refusing ``/socket.io/``) keeps chatting
  over HTTP polling, and goes back to the socket once it opens.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from parley_launcher.compose import EmbeddedApp, EmbeddedSettings
from parley_messages.config import MessagesSettings
from parley_presence.config import PresenceSettings
from tests.gateway.conftest import Stack, common_settings, gateway_settings, user
from tests.support.faulty_proxy import proxy_to
from tests.support.ports import free_port
from tests.support.servers import uvicorn_serving
from tests.ts_sdk.node_client import NodeClient, node_client, texts

__all__ = ["user"]
pytestmark = pytest.mark.timeout(60)

POLL_MS = 200  # the server's httpPollIntervalMs here: polling tests need not wait 3 s a step
ALL_SOCKET = {"messages": "socket", "typing": "socket", "presence": "socket"}
ALL_HTTP = {"messages": "http", "typing": "off", "presence": "http"}
MIXED = {"messages": "http", "typing": "socket", "presence": "socket"}


def settings(database_url: str, **client: Any) -> EmbeddedSettings:
    """The embedded default with the operator's client config (``client_messages="http"``, ...)."""
    messages = common_settings(database_url=database_url, client_http_poll_interval_ms=POLL_MS) | client
    return EmbeddedSettings(
        messages=MessagesSettings(**messages),
        gateway=gateway_settings(),
        presence=PresenceSettings(**common_settings()),
    )


@asynccontextmanager
async def serving_on(port: int, embedded: EmbeddedSettings) -> AsyncIterator[Stack]:
    """The embedded default on ``port``: the same port after a restart, as a rollout keeps its address."""
    app = EmbeddedApp(embedded)
    async with uvicorn_serving(app, port, ws_max_size=embedded.gateway.max_packet_bytes):
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url) as http:
            running = Stack(url=url, settings=embedded, http=http, app=app)
            try:
                yield running
            finally:
                await running.close()


async def post(stack: Stack, user_id: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await stack.http.post(path, json=body, headers=stack.auth(user_id))
    assert answer.status_code in (200, 201), answer.text
    result: dict[str, Any] = answer.json()
    return result


async def stored_bodies(stack: Stack, user_id: str, conversation_id: str) -> list[str]:
    answer = await stack.http.get(
        f"/api/conversations/{conversation_id}/messages", headers=stack.auth(user_id)
    )
    return [m["body"] for m in answer.json()["messages"]]


def all_stored(app: NodeClient, count: int) -> bool:
    return len(app.messages) == count and all(m["seq"] for m in app.messages)


@pytest.mark.parametrize("modes", [ALL_SOCKET, ALL_HTTP, MIXED], ids=["socket", "http", "mixed"])
async def test_each_mode_chats_reaches_read_and_shows_presence_and_typing_as_it_says(
    postgres_url: str, user: Callable[[str], str], modes: dict[str, str]
) -> None:
    async with (
        serving_on(free_port(), settings(postgres_url)) as stack,
        proxy_to(stack.url) as (proxy, behind),
    ):
        alice, bob, conversation_id = await stack.pair(user)
        if modes == ALL_HTTP:
            proxy.refuse_socket_io()  # proves no socket is even tried: an attempt would be an error
        bob_socket = await stack.joined(bob, conversation_id)  # bob online, over the socket
        options = {"features": modes}
        async with node_client(behind, stack.token(alice), conversation_id, options) as app:
            await app.until(lambda c: c.state == "connected" and c.modes == modes)
            # Joined (its own online flag is the server's: only a joined socket counts), so that
            # bob's typing reaches it.
            await app.until(lambda c: bob in c.online and (alice in c.online) == (modes != ALL_HTTP))

            await bob_socket.emit("typing:start", {"conversationId": conversation_id})
            await bob_socket.call(
                "message:send",
                {"conversationId": conversation_id, "clientMessageId": str(uuid.uuid4()), "body": "from bob"},
            )
            await app.until(lambda c: texts(c) == ["from bob"])
            if modes["typing"] == "socket":
                await app.until(lambda c: bob in c.typing)
            else:
                assert app.typing == []  # bob's typing:start came before his message

            await app.send("from alice 1")
            await app.send("from alice 2")
            await app.until(lambda c: all_stored(c, 3))
            read = await bob_socket.call("message:read", {"conversationId": conversation_id, "upToSeq": 3})
            assert read["ok"], read
            await app.until(lambda c: [m["status"] for m in c.messages[1:]] == ["read", "read"])

    assert [m["seq"] for m in app.messages] == [1, 2, 3]
    assert app.errors == []


async def test_the_operator_moves_messages_to_http_and_back_mid_session(
    postgres_url: str, user: Callable[[str], str]
) -> None:
    port = free_port()
    async with serving_on(port, settings(postgres_url)) as stack:
        alice, bob, conversation_id = await stack.pair(user)
        token = stack.token(alice)
    path = f"/api/conversations/{conversation_id}/messages"
    sent: list[str] = []

    async def exchange(stack: Stack, app: NodeClient, step: str) -> None:
        await app.send(f"alice {step}")
        await post(stack, bob, path, {"clientMessageId": str(uuid.uuid4()), "body": f"bob {step}"})
        sent.extend([f"alice {step}", f"bob {step}"])
        await app.until(lambda c: all_stored(c, len(sent)))

    async with node_client(f"http://127.0.0.1:{port}", token, conversation_id) as app:
        async with serving_on(port, settings(postgres_url)) as stack:
            await app.until(lambda c: c.state == "connected" and c.modes == ALL_SOCKET)
            await exchange(stack, app, "on sockets")
        async with serving_on(port, settings(postgres_url, client_messages="http")) as stack:
            await app.until(lambda c: c.modes["messages"] == "http", wait_s=30)  # read after the reconnect
            assert app.modes == {"messages": "http", "typing": "socket", "presence": "socket"}
            await exchange(stack, app, "over http")
        async with serving_on(port, settings(postgres_url)) as stack:
            await app.until(lambda c: c.modes == ALL_SOCKET, wait_s=30)
            await exchange(stack, app, "on sockets again")
            await post(stack, bob, f"/api/conversations/{conversation_id}/read", {"upToSeq": len(sent)})
            await app.until(
                lambda c: all(m["status"] == "read" for m in c.messages if m["text"].startswith("alice"))
            )
            stored = await stored_bodies(stack, bob, conversation_id)

    assert sorted(texts(app)) == sorted(sent)  # every message once
    assert [m["seq"] for m in app.messages] == list(range(1, len(sent) + 1))  # in seq order
    assert sorted(stored) == sorted(sent)  # stored once: no send doubled by the switches


async def test_a_client_whose_socket_cannot_open_keeps_working_over_http_polling(
    postgres_url: str, user: Callable[[str], str]
) -> None:
    async with (
        serving_on(free_port(), settings(postgres_url)) as stack,
        proxy_to(stack.url) as (proxy, behind),
    ):
        alice, bob, conversation_id = await stack.pair(user)
        proxy.refuse_socket_io()
        async with node_client(behind, stack.token(alice), conversation_id) as app:
            await app.until(lambda c: c.modes == ALL_HTTP and c.state == "connected")
            await app.send("through the proxy")
            await stack.post_message(bob, conversation_id, "polled")
            await app.until(lambda c: all_stored(c, 2))
            assert app.errors  # the socket was tried, and refused

            proxy.refuse_socket_io(False)
            await app.until(lambda c: c.modes == ALL_SOCKET, wait_s=30)  # at its next attempt
            await app.send("on the socket")
            await app.until(lambda c: all_stored(c, 3))
            stored = await stored_bodies(stack, bob, conversation_id)

    assert sorted(texts(app)) == sorted(["through the proxy", "polled", "on the socket"])
    assert [m["seq"] for m in app.messages] == [1, 2, 3]
    assert sorted(stored) == sorted(["through the proxy", "polled", "on the socket"])
