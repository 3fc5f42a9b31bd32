"""/metrics: the counters an operator watches move when things happen (read from the app
served on METRICS_PORT: the same process's registry)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
import socketio
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from parley_common.observability import metrics_app
from tests.gateway.conftest import Stack, message_payload
from tests.support.sockets import SocketClient


async def scrape(stack: Stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert (await stack.http.get("/metrics")).status_code == 404  # never on the public port
    transport = httpx.ASGITransport(app=metrics_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as metrics:
        answer = await metrics.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_socket_and_message_counters_move(stack: Stack, user: Callable[[str], str]) -> None:
    alice, bob, conversation = await stack.pair(user)
    before = await scrape(stack)

    sender = await stack.joined(alice, conversation)
    await stack.joined(bob, conversation)
    payload = message_payload(conversation)
    await sender.call("message:send", payload)
    await sender.call("message:send", payload)  # a retry: duplicate
    await sender.call("message:send", {"nope": 1})
    refused = SocketClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(stack.url)  # no token
    await refused.close()
    after = await scrape(stack)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("parley_gateway_connected_sockets") == 2
    assert moved("parley_gateway_events_total", event="message:send", outcome="ok") == 2
    assert moved("parley_gateway_events_total", event="message:send", outcome="invalid_payload") == 1
    assert moved("parley_gateway_events_total", event="conversation:join", outcome="ok") == 2
    assert moved("parley_gateway_send_ack_seconds_count") == 3
    assert moved("parley_gateway_internal_call_seconds_count", call="send_batch") == 2
    assert moved("parley_gateway_connections_refused_total", code="auth_missing") == 1
    assert moved("parley_messages_stored_total") == 1
    assert moved("parley_messages_duplicates_total") == 1
    assert moved("parley_presence_transitions_total", kind="online") >= 2


async def test_rate_limited_sends_are_counted(stack: Stack, user: Callable[[str], str]) -> None:
    alice = user("alice")
    conversation = await stack.conversation(alice)
    client = await stack.socket(alice)
    before = await scrape(stack)

    # The limiter's clock stands still: twelve sends in one instant, however slow the machine.
    with time_machine.travel(time.time(), tick=False):
        acks = [await client.call("message:send", message_payload(conversation)) for _ in range(12)]
    after = await scrape(stack)

    limited = value(after, "parley_messages_rate_limited_total") - value(
        before, "parley_messages_rate_limited_total"
    )
    assert [ack["ok"] for ack in acks] == [True] * 10 + [False] * 2
    assert limited == 2


async def test_per_transport_counters_show_socket_and_http_traffic(
    stack: Stack, user: Callable[[str], str]
) -> None:
    """What docs/migration.md says to watch while moving clients off HTTP polling."""
    alice, bob, conversation = await stack.pair(user)
    before = await scrape(stack)

    over_websocket = await stack.joined(alice, conversation)
    await stack.joined(bob, conversation, transports=["polling"])
    await over_websocket.call("message:send", message_payload(conversation))
    await over_websocket.call("messages:sync", {"conversationId": conversation, "afterSeq": 0})
    await over_websocket.call("message:read", {"conversationId": conversation, "upToSeq": 1})
    await stack.post_message(bob, conversation)  # a poller: its send, its polls, its receipt
    base = f"/api/conversations/{conversation}"
    assert (
        await stack.http.get(f"{base}/messages", params={"afterSeq": 1}, headers=stack.auth(bob))
    ).is_success
    assert (await stack.http.get(base, headers=stack.auth(bob))).is_success
    assert (await stack.http.post(f"{base}/read", json={"upToSeq": 2}, headers=stack.auth(bob))).is_success
    assert (await stack.http.get("/api/client-config", headers=stack.auth(bob))).is_success
    after = await scrape(stack)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("parley_gateway_sockets", transport="websocket") == 1
    assert moved("parley_gateway_sockets", transport="polling") == 1
    for transport in ("socket", "http"):
        assert moved("parley_messages_sends_total", transport=transport) == 1, transport
        assert moved("parley_messages_syncs_total", transport=transport) == 1, transport
        assert moved("parley_messages_receipts_total", transport=transport) == 1, transport
    assert moved("parley_messages_conversation_reads_total") == 1
    assert moved("parley_messages_client_config_reads_total") == 1
