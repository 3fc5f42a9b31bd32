"""Structured logs, and a request id that follows an event from the gateway to messages."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from parley_common.observability import configure_logging, request_id
from parley_gateway.messages_client import MessagesClient
from tests.gateway.conftest import Stack


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
