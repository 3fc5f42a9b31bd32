"""Transports and liveness (PROTOCOL §1, §3): polling alone works, pings catch a dead link,
an oversized packet costs only its own connection."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import orjson
import websockets

from tests.gateway.conftest import Stack, message_payload, serving


async def test_a_polling_only_client_works_end_to_end(stack: Stack, user: Callable[[str], str]) -> None:
    alice, bob, conversation = await stack.pair(user)
    poller = await stack.joined(alice, conversation, transports=["polling"])
    other = await stack.joined(bob, conversation)

    assert poller.sio.transport() == "polling"
    sent = await poller.call("message:send", message_payload(conversation, "by polling"))
    assert (await other.next("message:new"))["message"] == sent["message"]
    reply = await other.call("message:send", message_payload(conversation, "to the poller"))
    assert (await poller.next("message:new"))["message"] == reply["message"]
    await other.call("typing:start", {"conversationId": conversation})
    assert (await poller.next("typing:start"))["userId"] == bob


async def test_the_handshake_advertises_pings_under_five_seconds_and_the_packet_limit(stack: Stack) -> None:
    answer = await stack.http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})

    assert answer.status_code == 200
    opened = orjson.loads(answer.content[1:])  # "0" is Engine.IO's OPEN packet type
    assert (opened["pingInterval"], opened["pingTimeout"], opened["maxPayload"]) == (2000, 2500, 65536)
    assert opened["pingInterval"] + opened["pingTimeout"] < 5000
    assert opened["upgrades"] == ["websocket"]


async def test_an_oversized_packet_closes_only_that_connection(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob, conversation = await stack.pair(user)
    offender = await stack.joined(alice, conversation)
    offender.sio.reconnection = False
    bystander = await stack.joined(bob, conversation)

    await offender.emit("message:send", message_payload(conversation, "x" * 70_000))

    await asyncio.wait_for(offender.disconnects.get(), 5)
    ack = await bystander.call("message:send", message_payload(conversation, "unaffected"))
    assert ack["ok"] is True
    synced = await bystander.call("messages:sync", {"conversationId": conversation})
    assert [m["body"] for m in synced["messages"]] == ["unaffected"]


async def test_an_oversized_polling_post_closes_only_that_connection(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice = user("alice")
    conversation = await stack.conversation(alice)
    offender = await stack.joined(alice, conversation, transports=["polling"])
    offender.sio.reconnection = False
    bystander = await stack.joined(alice, conversation, transports=["polling"])

    await offender.emit("message:send", message_payload(conversation, "x" * 70_000))

    await asyncio.wait_for(offender.disconnects.get(), 10)
    assert (await bystander.call("message:send", message_payload(conversation)))["ok"] is True


async def test_a_client_that_stops_answering_pings_is_dropped(postgres_url: str) -> None:
    # Short pings so the test is quick; the defaults are checked by the handshake test.
    async with serving(postgres_url, ping_interval_ms=300, ping_timeout_ms=300) as stack:
        url = stack.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        async with websockets.connect(url) as ws:
            assert str(await ws.recv()).startswith("0")
            await ws.send("40" + orjson.dumps({"token": stack.token("silent")}).decode())
            assert str(await ws.recv()).startswith("40")
            # Read, never answer the server's pings ("2"): it must hang up on us.
            frames = []
            async with asyncio.timeout(3):
                try:
                    async for frame in ws:
                        frames.append(frame)
                except websockets.ConnectionClosed:
                    pass
            assert "2" in frames
            assert ws.close_code is not None
