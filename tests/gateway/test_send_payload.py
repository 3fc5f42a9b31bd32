"""``message:send`` payloads read without a model take exactly what the model takes, with
the same values, and every refusal is the model's own."""

from __future__ import annotations

from typing import Any

import pytest

from parley_common.errors import InvalidPayload
from parley_common.wire import parse_payload
from parley_gateway.sio.send_payload import SendPayload, read_send

GOOD = {"conversationId": "c-1", "clientMessageId": "k-1", "body": "hello"}

PAYLOADS: list[Any] = [
    GOOD,
    GOOD | {"extra": 1, "body": "x" * (64 * 1024)},
    GOOD | {"conversationId": "c" * 200, "clientMessageId": "k" * 128, "body": ""},
    GOOD | {"conversationId": "é-ü-日本", "body": " \x00\r\n\u3000 <b>"},  # the service sanitizes
    GOOD | {"conversationId": "c" * 201},
    GOOD | {"clientMessageId": "k" * 129},
    GOOD | {"body": "x" * (64 * 1024 + 1)},
    GOOD | {"conversationId": ""},
    GOOD | {"clientMessageId": ""},
    GOOD | {"conversationId": "c\x00"},
    GOOD | {"conversationId": "c\x7f"},
    GOOD | {"clientMessageId": "k\x1f"},
    GOOD | {"clientMessageId": "k\tk"},
    GOOD | {"conversationId": "c c ~!"},
    GOOD | {"conversationId": "c\x85"},
    GOOD | {"clientMessageId": "k\u200b"},
    GOOD | {"conversationId": "c\ud800"},
    GOOD | {"body": "half an emoji \ud83d"},
    GOOD | {"conversationId": 5},
    GOOD | {"clientMessageId": 5},
    GOOD | {"body": None},
    GOOD | {"body": ["x"]},
    {"conversationId": "c"},
    {},
    {"conversation_id": "c", "client_message_id": "k", "body": "by field name"},
    GOOD | {"conversation_id": "other", "client_message_id": "other"},  # the alias wins
    {"conversationId": "c", "client_message_id": "k", "body": "mixed"},
    None,
    "a string",
    ["a", "list"],
    5,
]


def _model(payload: Any) -> tuple[str, str, str] | str:
    try:
        request = parse_payload(SendPayload, payload)
    except InvalidPayload as exc:
        return str(exc.to_ack())
    return request.conversation_id, request.client_message_id, request.body


def _plain(payload: Any) -> tuple[str, str, str] | str:
    try:
        return read_send(payload)
    except InvalidPayload as exc:
        return str(exc.to_ack())


@pytest.mark.parametrize("payload", PAYLOADS)
def test_read_send_answers_as_the_model(payload: Any) -> None:
    assert _plain(payload) == _model(payload)


def test_an_ascii_id_is_fit_exactly_when_it_is_printable() -> None:
    # read_send's shortcut for ASCII ids (parley_common.ids is the rule).
    for code in range(128):
        payload = GOOD | {"conversationId": f"c{chr(code)}c"}
        assert _plain(payload) == _model(payload)
