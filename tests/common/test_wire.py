"""Wire models (PROTOCOL §3-4), timestamps and the error vocabulary."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parley_common.errors import (
    HTTP_STATUS,
    ErrorCode,
    Forbidden,
    InternalError,
    InvalidPayload,
    NotFound,
    ParleyError,
    PayloadTooLarge,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from parley_common.timefmt import format_ts, parse_ts, utcnow_ms
from parley_common.wire import (
    ConversationRef,
    CreateConversation,
    Message,
    Receipt,
    ReceiptMoved,
    SendMessage,
    SyncRequest,
    WireModel,
    parse_payload,
)

SEND = {"conversationId": "c1", "clientMessageId": "6f1c2a9e-0000-4000-8000-000000000001", "body": "hi"}
RECEIPT = {"conversationId": "c1", "upToSeq": 3}
SYNC = {"conversationId": "c1"}


def _refused(model: type[WireModel], payload: Any) -> InvalidPayload:
    with pytest.raises(InvalidPayload) as info:
        parse_payload(model, payload)
    assert info.value.code is ErrorCode.INVALID_PAYLOAD
    assert info.value.message
    return info.value


# ---- payload shape -------------------------------------------------------------------


@pytest.mark.parametrize("model", [ConversationRef, SendMessage, Receipt, SyncRequest])
@pytest.mark.parametrize(
    "payload",
    [None, [], [SEND], "c1", json.dumps(SEND), 1, 1.5, True],
    ids=["none", "empty-list", "list-of-object", "string", "json-string", "int", "float", "bool"],
)
def test_non_object_payloads_are_refused(model: type[WireModel], payload: Any) -> None:
    assert _refused(model, payload).message == "payload must be a JSON object"


@pytest.mark.parametrize("model", [ConversationRef, SendMessage, Receipt, SyncRequest])
def test_empty_object_is_refused(model: type[WireModel]) -> None:
    assert "conversationId" in _refused(model, {}).message


def test_unknown_fields_are_ignored() -> None:
    parsed = parse_payload(Receipt, {**RECEIPT, "extra": {"x": 1}, "upToSeqq": "no"})
    assert parsed.up_to_seq == 3
    assert parsed.wire() == RECEIPT


def test_send_message_parses() -> None:
    parsed = parse_payload(SendMessage, SEND)
    assert (parsed.conversation_id, parsed.client_message_id, parsed.body) == (
        "c1",
        SEND["clientMessageId"],
        "hi",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("conversationId", ""),
        ("conversationId", 5),
        ("conversationId", None),
        ("conversationId", "x" * 201),
        ("clientMessageId", ""),
        ("clientMessageId", 123),
        ("clientMessageId", "x" * 129),
        ("body", 5),
        ("body", None),
        ("body", ["hi"]),
    ],
    ids=[
        "conv-empty",
        "conv-int",
        "conv-null",
        "conv-too-long",
        "cmid-empty",
        "cmid-int",
        "cmid-too-long",
        "body-int",
        "body-null",
        "body-list",
    ],
)
def test_ill_typed_send_fields_are_refused(field: str, value: Any) -> None:
    assert field in _refused(SendMessage, {**SEND, field: value}).message


@pytest.mark.parametrize("field", ["conversationId", "clientMessageId", "body"])
def test_missing_send_fields_are_refused(field: str) -> None:
    payload = {name: value for name, value in SEND.items() if name != field}
    assert field in _refused(SendMessage, payload).message


# ---- integers: strict, non-negative --------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["3", "0", 3.0, 2.5, True, False, None, -1, [3]],
    ids=[
        "numeric-string",
        "zero-string",
        "float-integral",
        "float",
        "true",
        "false",
        "null",
        "negative",
        "list",
    ],
)
def test_up_to_seq_must_be_a_non_negative_json_integer(value: Any) -> None:
    assert "upToSeq" in _refused(Receipt, {**RECEIPT, "upToSeq": value}).message


@pytest.mark.parametrize("value", [0, 1, 2**53])
def test_up_to_seq_accepts_integers(value: int) -> None:
    assert parse_payload(Receipt, {**RECEIPT, "upToSeq": value}).up_to_seq == value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("afterSeq", "5"),
        ("afterSeq", True),
        ("afterSeq", -1),
        ("afterSeq", 1.0),
        ("limit", "10"),
        ("limit", True),
        ("limit", 10.0),
        ("limit", 0),
        ("limit", -5),
        ("since", "yesterday"),
        ("since", 1764150067),
        ("since", ""),
    ],
    ids=[
        "after-string",
        "after-bool",
        "after-negative",
        "after-float",
        "limit-string",
        "limit-bool",
        "limit-float",
        "limit-0",
        "limit-negative",
        "since-garbage",
        "since-epoch-int",
        "since-empty",
    ],
)
def test_sync_fields_are_strict(field: str, value: Any) -> None:
    assert field in _refused(SyncRequest, {**SYNC, field: value}).message


@pytest.mark.parametrize(("limit", "expected"), [(1, 1), (100, 100), (500, 500), (501, 500), (900, 500)])
def test_limit_is_clamped_to_500(limit: int, expected: int) -> None:
    assert parse_payload(SyncRequest, {**SYNC, "limit": limit}).limit == expected


def test_sync_defaults_and_parsing() -> None:
    parsed = parse_payload(SyncRequest, SYNC)
    assert (parsed.after_seq, parsed.since, parsed.limit) == (None, None, 100)
    parsed = parse_payload(
        SyncRequest, {**SYNC, "afterSeq": 0, "since": "2026-11-26T09:41:07.123Z", "limit": 7}
    )
    assert parsed.after_seq == 0
    assert parsed.since == datetime(2026, 11, 26, 9, 41, 7, 123000, tzinfo=UTC)
    assert parsed.limit == 7
    explicit_null = parse_payload(SyncRequest, {**SYNC, "afterSeq": None, "since": None})
    assert (explicit_null.after_seq, explicit_null.since) == (None, None)


# ---- body: normalized, 1..4000 code points, then escaped (PROTOCOL §4.2) ---------------


@pytest.mark.parametrize(
    "body",
    ["", "   ", "\n\t\r\n", "\x00\x01\x7f", "\u00a0\u3000"],
    ids=["empty", "spaces", "white-space", "controls-only", "unicode-space"],
)
def test_body_empty_after_normalizing_is_refused(body: str) -> None:
    assert "body" in _refused(SendMessage, {**SEND, "body": body}).message


@pytest.mark.parametrize(
    ("body", "length"),
    [
        ("a" * 4000, 4000),
        ("😀" * 4000, 4000),  # code points, not UTF-16 units (8000) or bytes (16000)
        ("  " + "a" * 4000 + "\n", 4000),  # counted after trimming
        ("<" * 4000, 16000),  # counted before escaping: 4000 typed, "&lt;" stored for each
        ("&" * 4000, 20000),
        ("e\u0301" * 4000, 4000),  # counted after NFC: 8000 code points in, 4000 out
    ],
    ids=["ascii-4000", "emoji-4000", "trimmed-to-4000", "lt-4000", "amp-4000", "nfc-to-4000"],
)
def test_body_of_4000_code_points_is_accepted(body: str, length: int) -> None:
    parsed = parse_payload(SendMessage, {**SEND, "body": body})
    assert len(parsed.body) == length


@pytest.mark.parametrize(
    "body",
    ["a" * 4001, "😀" * 4001, "<" * 4001, "x" * 70_000],
    ids=["ascii-4001", "emoji-4001", "lt-4001", "over-64k"],
)
def test_body_over_4000_code_points_is_refused(body: str) -> None:
    assert "body" in _refused(SendMessage, {**SEND, "body": body}).message


def test_body_is_stored_escaped_and_nothing_is_lost() -> None:
    parsed = parse_payload(SendMessage, {**SEND, "body": "  <b>hi</b> if a<b & c\r\n"})
    assert parsed.body == "&lt;b&gt;hi&lt;/b&gt; if a&lt;b &amp; c"


def test_conversation_title_is_escaped_and_optional() -> None:
    parsed = parse_payload(CreateConversation, {"memberIds": ["u2"], "title": " <i>Team</i> & co "})
    assert parsed.title == "&lt;i&gt;Team&lt;/i&gt; &amp; co"
    assert parse_payload(CreateConversation, {"memberIds": ["u2"], "title": " \n "}).title is None
    assert parse_payload(CreateConversation, {"memberIds": []}).title is None
    assert parse_payload(CreateConversation, {"memberIds": [], "title": "<" * 200}).title == "&lt;" * 200
    assert "title" in _refused(CreateConversation, {"memberIds": [], "title": "x" * 201}).message
    assert "title" in _refused(CreateConversation, {"memberIds": [], "title": "&" * 201}).message
    assert "memberIds" in _refused(CreateConversation, {"memberIds": "u2"}).message


def test_validation_messages_are_capped_at_three_errors() -> None:
    message = _refused(SendMessage, {"conversationId": 1, "clientMessageId": 2, "body": 3}).message
    assert message.count(";") == 2


# ---- output: camelCase, timestamps ---------------------------------------------------


def test_message_wire_is_camel_case_with_millisecond_utc_timestamp() -> None:
    message = Message(
        id="m1",
        conversation_id="c1",
        sender_id="u1",
        client_message_id="k1",
        body="hi",
        seq=42,
        created_at=datetime(2026, 11, 26, 9, 41, 7, 123456, tzinfo=UTC),
    )
    wire = message.wire()
    assert wire == {
        "id": "m1",
        "conversationId": "c1",
        "senderId": "u1",
        "clientMessageId": "k1",
        "body": "hi",
        "seq": 42,
        "createdAt": "2026-11-26T09:41:07.123Z",
    }
    assert json.loads(json.dumps(wire)) == wire
    assert Message.model_validate(wire) == message.model_copy(
        update={"created_at": datetime(2026, 11, 26, 9, 41, 7, 123000, tzinfo=UTC)}
    )


def test_timestamps_are_converted_to_utc_on_the_wire() -> None:
    paris = timezone(timedelta(hours=1))
    moved = ReceiptMoved(
        conversation_id="c1",
        user_id="u1",
        up_to_seq=5,
        at=datetime(2026, 11, 26, 10, 41, 7, 5000, tzinfo=paris),
    )
    assert moved.wire() == {
        "conversationId": "c1",
        "userId": "u1",
        "upToSeq": 5,
        "at": "2026-11-26T09:41:07.005Z",
    }


# ---- timefmt -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2026-11-26T09:41:07.123Z", "2026-11-26T09:41:07.123Z"),
        ("2026-11-26T09:41:07Z", "2026-11-26T09:41:07.000Z"),
        ("2026-11-26T09:41:07.123456Z", "2026-11-26T09:41:07.123Z"),
        ("2026-11-26T10:41:07.123+01:00", "2026-11-26T09:41:07.123Z"),
        ("2026-11-26T09:41:07.123", "2026-11-26T09:41:07.123Z"),  # no zone: UTC
        ("2026-11-26T09:41:07.123+00:00", "2026-11-26T09:41:07.123Z"),
    ],
    ids=["canonical", "no-fraction", "micro", "offset", "naive", "plus-zero"],
)
def test_parse_then_format(text: str, canonical: str) -> None:
    parsed = parse_ts(text)
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == timedelta(0)
    assert format_ts(parsed) == canonical
    assert format_ts(parse_ts(canonical)) == canonical


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1970, 1, 1),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
        ),
    )
)
def test_format_parse_round_trip(value: datetime) -> None:
    text = format_ts(value)
    assert len(text) == len("2026-11-26T09:41:07.123Z")
    assert text.endswith("Z")
    truncated = value.replace(microsecond=value.microsecond - value.microsecond % 1000)
    assert parse_ts(text) == truncated
    assert format_ts(parse_ts(text)) == text


def test_format_naive_is_utc() -> None:
    assert format_ts(datetime(2026, 1, 2, 3, 4, 5, 6789)) == "2026-01-02T03:04:05.006Z"


def test_parse_refuses_garbage() -> None:
    with pytest.raises(ValueError):
        parse_ts("not a time")


def test_utcnow_ms_is_utc_and_whole_milliseconds() -> None:
    now = utcnow_ms()
    assert now.tzinfo is UTC
    assert now.microsecond % 1000 == 0
    assert parse_ts(format_ts(now)) == now
    assert abs(datetime.now(UTC) - now) < timedelta(seconds=5)


# ---- errors --------------------------------------------------------------------------

ALL_ERRORS: list[type[ParleyError]] = [
    InvalidPayload,
    Forbidden,
    NotFound,
    RateLimited,
    Unavailable,
    InternalError,
    Unauthenticated,
    PayloadTooLarge,
]


@pytest.mark.parametrize("error_type", ALL_ERRORS)
def test_to_ack_shape_without_retry(error_type: type[ParleyError]) -> None:
    error = error_type()
    assert error.to_ack() == {"ok": False, "error": {"code": error_type.code.value, "message": error.message}}
    assert error.message == error_type.default_message
    assert "retryAfterMs" not in error.to_ack()["error"]
    assert str(error) == error.message


def test_rate_limited_ack_carries_retry_after_ms() -> None:
    error = RateLimited(retry_after_ms=250)
    assert error.to_ack() == {
        "ok": False,
        "error": {"code": "rate_limited", "message": RateLimited.default_message, "retryAfterMs": 250},
    }
    assert error.http_status == 429


def test_custom_message() -> None:
    assert NotFound("no such message").to_error() == {"code": "not_found", "message": "no such message"}


@pytest.mark.parametrize(
    "error",
    [*(t("why") for t in ALL_ERRORS), RateLimited(retry_after_ms=1200)],
    ids=[*(t.__name__ for t in ALL_ERRORS), "RateLimited-retry"],
)
def test_from_error_round_trip(error: ParleyError) -> None:
    rebuilt = ParleyError.from_error(error.to_error())
    assert rebuilt.code is error.code
    assert rebuilt.message == error.message
    assert rebuilt.retry_after_ms == error.retry_after_ms
    assert rebuilt.to_ack() == error.to_ack()
    # PayloadTooLarge has no code of its own: it comes back as its parent, InvalidPayload.
    expected_type = InvalidPayload if isinstance(error, PayloadTooLarge) else type(error)
    assert type(rebuilt) is expected_type


@pytest.mark.parametrize(
    "error",
    [{}, {"code": "teapot", "message": "x"}, {"code": None}, {"code": ["list"]}],
    ids=["empty", "unknown-code", "null-code", "unhashable-code"],
)
def test_from_error_unknown_is_internal(error: dict[str, Any]) -> None:
    rebuilt = ParleyError.from_error(error)
    assert type(rebuilt) is InternalError
    assert rebuilt.code is ErrorCode.INTERNAL
    assert rebuilt.message == (error.get("message") or InternalError.default_message)


def test_from_error_ignores_a_non_integer_retry() -> None:
    rebuilt = ParleyError.from_error({"code": "rate_limited", "message": "slow", "retryAfterMs": "soon"})
    assert isinstance(rebuilt, RateLimited)
    assert rebuilt.retry_after_ms is None
    assert "retryAfterMs" not in rebuilt.to_error()


def test_payload_too_large_is_invalid_payload_with_413() -> None:
    error = PayloadTooLarge()
    assert isinstance(error, InvalidPayload)
    assert error.code is ErrorCode.INVALID_PAYLOAD
    assert error.to_error()["code"] == "invalid_payload"
    assert error.http_status == 413
    assert InvalidPayload().http_status == 422


def test_http_statuses() -> None:
    assert {error_type.__name__: error_type().http_status for error_type in ALL_ERRORS} == {
        "InvalidPayload": 422,
        "Forbidden": 403,
        "NotFound": 404,
        "RateLimited": 429,
        "Unavailable": 503,
        "InternalError": 500,
        "Unauthenticated": 401,
        "PayloadTooLarge": 413,
    }
    assert set(HTTP_STATUS) == set(ErrorCode)


def test_error_codes_are_the_protocol_strings() -> None:
    assert {code.value for code in ErrorCode} == {
        "invalid_payload",
        "forbidden",
        "not_found",
        "rate_limited",
        "unavailable",
        "internal",
        "unauthenticated",
    }
