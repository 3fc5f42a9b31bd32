"""Structured logs, and a request id that follows an event from the gateway to messages."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley_common.observability import REQUEST_ID_HEADER, configure_logging, request_id
from parley_gateway.messages_client import MessagesClient
from parley_launcher.compose import EmbeddedApp
from tests.gateway.conftest import Stack, embedded_settings, message_payload, serving_settings


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("gateway", json_lines=True)
    root.handlers[0].stream = stream  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def test_log_lines_are_json_with_service_level_and_request_id(captured: io.StringIO) -> None:
    token = request_id.set("req-123")
    try:
        logging.getLogger("parley_gateway.test").warning("something %s", "happened")
    finally:
        request_id.reset(token)

    line = json.loads(captured.getvalue().splitlines()[-1])
    assert line["service"] == "gateway"
    assert line["level"] == "WARNING"
    assert line["message"] == "something happened"
    assert line["request_id"] == "req-123"
    assert line["logger"] == "parley_gateway.test"


async def test_http_services_echo_or_make_a_request_id(stack: Stack) -> None:
    given = await stack.http.get("/healthz", headers={"X-Request-ID": "abc"})
    made = await stack.http.get("/healthz")

    assert given.headers["x-request-id"] == "abc"
    assert len(made.headers["x-request-id"]) == 32


class RecordingTransport:
    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        self.headers.append(headers)
        return 200, b'{"lastSeq": 0}'

    async def aclose(self) -> None:
        return None


async def test_internal_calls_carry_the_events_request_id(user: Callable[[str], str]) -> None:
    transport = RecordingTransport()
    client = MessagesClient(transport, timeout_s=1)
    token = request_id.set("event-42")
    try:
        await client.access("c", user("alice"))
    finally:
        request_id.reset(token)

    assert transport.headers == [{"x-request-id": "event-42"}]


class RequestIds:
    """ASGI middleware on the messages app: for each internal call, the id it was sent with
    and the id the service answered with (the one its log lines carry)."""

    def __init__(self, app: ASGIApp, calls: list[tuple[str, str, str]]) -> None:
        self.app = app
        self.calls = calls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/internal/"):
            await self.app(scope, receive, send)
            return
        header = REQUEST_ID_HEADER.encode()
        sent = dict(scope["headers"]).get(header, b"").decode()

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered = dict(message.get("headers", [])).get(header, b"").decode()
                self.calls.append((scope["path"].rsplit("/", 1)[-1], sent, answered))
            await send(message)

        await self.app(scope, receive, answer)


async def test_each_event_carries_its_own_id_into_the_messages_service(
    postgres_url: str, user: Callable[[str], str]
) -> None:
    settings = embedded_settings(postgres_url)
    app = EmbeddedApp(settings)
    calls: list[tuple[str, str, str]] = []
    app.messages.add_middleware(RequestIds, calls=calls)
    async with serving_settings(settings, app=app) as stack:
        alice = user("alice")
        conversation = await stack.conversation(alice)
        client = await stack.joined(alice, conversation)
        for body in ("one", "two"):
            assert (await client.call("message:send", message_payload(conversation, body)))["ok"]

    assert [path for path, _, _ in calls] == ["join", "batch", "batch"]
    sent = [sent for _, sent, _ in calls]
    assert all(len(s) == 32 for s in sent) and len(set(sent)) == 3, "one id per event"
    assert all(answered == sent for _, sent, answered in calls), "the service took the event's id as its own"
