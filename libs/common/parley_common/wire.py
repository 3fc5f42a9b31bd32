"""The wire models of PROTOCOL §4-5: camelCase JSON, validated strictly.

Inputs are strict: ids and bodies must be JSON strings, seqs and limits JSON integers
(a numeric string is ``invalid_payload``), and unknown fields are ignored so that newer
clients can talk to older servers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel

from parley_common.errors import InvalidPayload
from parley_common.ids import MAX_ID_CHARS, check_id, has_surrogates
from parley_common.sanitize import MAX_BODY_CHARS, MAX_TITLE_CHARS, escape_text, normalize_text
from parley_common.timefmt import format_ts, parse_ts

MAX_SYNC_LIMIT = 500
DEFAULT_SYNC_LIMIT = 100
MAX_MEMBERS = 10_000
# Seqs are PostgreSQL bigints: a larger one cannot name a message (and would not fit a query).
MAX_SEQ = 2**63 - 1

Timestamp = Annotated[datetime, PlainSerializer(format_ts, return_type=str)]
Id = Annotated[StrictStr, StringConstraints(min_length=1, max_length=MAX_ID_CHARS), AfterValidator(check_id)]
ClientMessageId = Annotated[
    StrictStr, StringConstraints(min_length=1, max_length=128), AfterValidator(check_id)
]
Seq = Annotated[StrictInt, Field(ge=0, le=MAX_SEQ)]


def _no_surrogates(value: str) -> str:
    # Control characters are the sanitizer's job; a surrogate cannot even reach it.
    if has_surrogates(value):
        raise ValueError("must not contain lone surrogates")
    return value


# A body as the gateway takes it: only its shape is checked there (sanitizing is done once,
# by the messages service).
RawBody = Annotated[StrictStr, StringConstraints(max_length=64 * 1024), AfterValidator(_no_surrogates)]


def _check_body(value: str) -> str:
    text = normalize_text(_no_surrogates(value))
    if not text:
        raise ValueError("body is empty (after removing control characters and outer white space)")
    if len(text) > MAX_BODY_CHARS:
        raise ValueError(f"body is longer than {MAX_BODY_CHARS} characters")
    return escape_text(text)


def stored_body(value: object) -> str:
    """A body as :data:`Body` takes it, for a caller that reads a payload without a model;
    ValueError when it cannot be one."""
    if not isinstance(value, str) or len(value) > 64 * 1024:
        raise ValueError("body must be a string of at most 64 KiB")
    return _check_body(value)


def _check_title(value: str | None) -> str | None:
    if value is None:
        return None
    text = normalize_text(_no_surrogates(value))
    if len(text) > MAX_TITLE_CHARS:
        raise ValueError(f"title is longer than {MAX_TITLE_CHARS} characters")
    return escape_text(text) or None


# PROTOCOL §4.2: normalized, counted (code points, before escaping), then escaped; the
# model holds the stored form.
Body = Annotated[StrictStr, StringConstraints(max_length=64 * 1024), AfterValidator(_check_body)]


class WireModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="ignore",
        frozen=True,
    )

    def wire(self) -> dict[str, Any]:
        """The JSON-ready dict with camelCase keys."""
        return self.model_dump(mode="json", by_alias=True)


ModelT = TypeVar("ModelT", bound=WireModel)


# ---- objects -------------------------------------------------------------------------


class Message(WireModel):
    id: str
    conversation_id: str
    sender_id: str
    client_message_id: str
    body: str
    seq: int
    created_at: Timestamp


class Member(WireModel):
    user_id: str
    online: bool = False
    last_delivered_seq: int = 0
    last_read_seq: int = 0


class Conversation(WireModel):
    id: str
    title: str | None
    member_ids: list[str]
    created_at: Timestamp
    last_seq: int


class ConversationDetail(Conversation):
    members: list[Member]


# ---- client -> server payloads --------------------------------------------------------


class ConversationRef(WireModel):
    conversation_id: Id


class SendMessage(ConversationRef):
    client_message_id: ClientMessageId
    body: Body


class Receipt(ConversationRef):
    up_to_seq: Seq


class SyncQuery(WireModel):
    """``afterSeq`` wins over ``since``; neither means from the start."""

    after_seq: Seq | None = None
    since: Timestamp | None = None
    limit: StrictInt = DEFAULT_SYNC_LIMIT

    @field_validator("since", mode="before")
    @classmethod
    def _parse_since(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("since must be an ISO 8601 timestamp string")
        try:
            return parse_ts(value)
        except ValueError:
            raise ValueError("since must be an ISO 8601 timestamp") from None

    @field_validator("limit")
    @classmethod
    def _clamp_limit(cls, value: int) -> int:
        if value < 1:
            raise ValueError("limit must be at least 1")
        return min(value, MAX_SYNC_LIMIT)


class SyncRequest(SyncQuery, ConversationRef):
    pass


# ---- HTTP bodies ----------------------------------------------------------------------


class CreateConversation(WireModel):
    member_ids: Annotated[list[Id], Field(max_length=MAX_MEMBERS)]
    title: Annotated[StrictStr | None, Field(max_length=1000), AfterValidator(_check_title)] = None


class PostMessage(WireModel):
    client_message_id: ClientMessageId
    body: Body


class ReceiptBody(WireModel):
    up_to_seq: Seq


# ---- results (ack payloads minus ``ok``, and HTTP bodies) ---------------------------


class SendResult(WireModel):
    message: Message
    duplicate: bool


class SyncResult(WireModel):
    messages: list[Message]
    has_more: bool
    last_seq: int


class MembersSnapshot(WireModel):
    conversation_id: str
    last_seq: int
    members: list[Member]


class ReceiptResult(WireModel):
    up_to_seq: int


class ReceiptMoved(WireModel):
    """The server → room event of §4.6 (``message:delivered`` / ``message:read``)."""

    conversation_id: str
    user_id: str
    up_to_seq: int
    at: Timestamp


def parse_payload(model: type[ModelT], payload: Any) -> ModelT:
    """Validate a client payload; anything wrong becomes :class:`InvalidPayload`."""
    if not isinstance(payload, dict):
        raise InvalidPayload("payload must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise InvalidPayload(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error["loc"]) or "payload"
        parts.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)
