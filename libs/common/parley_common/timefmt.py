"""Timestamps on the wire: ISO 8601 UTC with milliseconds and a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow_ms() -> datetime:
    """Now, truncated to the millisecond so that what is stored equals what is sent.

    Truncating at creation matters for ``since`` queries: a client passing back the
    ``createdAt`` it received must not get the same message again.
    """
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


def format_ts(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_ts(text: str) -> datetime:
    """Parse an ISO 8601 timestamp; one without a zone is taken as UTC.

    ValueError for anything else, a valid time outside the years 1-9999 in UTC included
    (``0001-01-01T00:00+05:00``)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range in UTC") from None


def format_ts_ms(epoch_ms: int) -> str:
    """The wire format of a time given in milliseconds since the epoch."""
    seconds, millis = divmod(epoch_ms, 1000)
    return format_ts(datetime.fromtimestamp(seconds, UTC).replace(microsecond=millis * 1000))
