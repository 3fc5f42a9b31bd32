"""The security suite's fixtures: the embedded stack (real uvicorn, real PostgreSQL) with
one JWT configuration shared by the messages service and the gateway, and a check that
nothing stored is garbage."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from parley_common.ids import is_valid_id
from parley_common.sanitize import MAX_BODY_CHARS, MAX_TITLE_CHARS, is_sanitized, unescape_text
from parley_gateway.config import GatewaySettings
from parley_launcher.compose import EmbeddedSettings
from parley_messages.config import MessagesSettings
from parley_presence.config import PresenceSettings
from tests.gateway.conftest import Stack, common_settings, serving_settings
from tests.support.rsa_keys import RsaKeys, generate_rsa_keys

ISSUER = "https://auth.parley.test"
AUDIENCE = "parley"


@pytest.fixture(scope="session")
def issuer_keys() -> RsaKeys:
    """The identity provider's RSA key pair (its public half configured in Parley)."""
    return generate_rsa_keys()


@pytest.fixture(scope="session")
def other_keys() -> RsaKeys:
    """Someone else's key pair: valid signatures Parley must not accept."""
    return generate_rsa_keys()


@asynccontextmanager
async def secured(
    database_url: str,
    *,
    jwt: dict[str, Any] | None = None,
    gateway: dict[str, Any] | None = None,
    presence: dict[str, Any] | None = None,
) -> AsyncIterator[Stack]:
    """The embedded default on a free port; ``jwt`` settings go to every service."""
    jwt = jwt or {}
    settings = EmbeddedSettings(
        messages=MessagesSettings(**common_settings(database_url=database_url, **jwt)),
        gateway=GatewaySettings(**common_settings(**jwt, **(gateway or {}))),
        presence=PresenceSettings(**common_settings(**(presence or {}))),
    )
    async with serving_settings(settings, **settings.gateway.server_options()) as running:
        yield running


@pytest.fixture
async def stack(postgres_url: str) -> AsyncIterator[Stack]:
    async with secured(postgres_url, presence={"presence_grace_ms": 0}) as running:
        yield running


@pytest.fixture
def user() -> Callable[[str], str]:
    """Random user ids, so tests never see each other's data."""
    suffix = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{suffix}"


# ---- what was stored -------------------------------------------------------------------


async def fetch(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url, timeout=5)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
        return rows
    finally:
        await conn.close()


def _stored_text(text: str, escaped: bool, max_chars: int) -> bool:
    """PROTOCOL §4.2's stored form, of 1..max_chars code points before escaping."""
    return escaped and is_sanitized(text) and 0 < len(unescape_text(text)) <= max_chars


async def assert_nothing_stored_is_garbage(database_url: str, conversation_ids: list[str]) -> int:
    """Every row of these conversations is what the wire models allow; returns the message count.

    Messages: a body in §4.2's stored form (normalized, then escaped exactly once, marked
    escaped) of 1-4000 code points before escaping, valid ids, seqs 1..n without gaps.
    Conversations: a title in that form of at most 200 code points, or none. Members: valid
    ids, watermarks within 0..lastSeq.
    """
    conversations = await fetch(
        database_url,
        "SELECT id, title, title_escaped, created_by, last_seq FROM conversations WHERE id = ANY($1)",
        conversation_ids,
    )
    assert len(conversations) == len(set(conversation_ids))
    last_seq = {row["id"]: row["last_seq"] for row in conversations}
    for row in conversations:
        assert row["title"] is None or _stored_text(row["title"], row["title_escaped"], MAX_TITLE_CHARS), row
        assert is_valid_id(row["created_by"]), row
    members = await fetch(
        database_url,
        "SELECT conversation_id, user_id, last_delivered_seq, last_read_seq "
        "FROM conversation_members WHERE conversation_id = ANY($1)",
        conversation_ids,
    )
    for row in members:
        assert is_valid_id(row["user_id"]), row
        limit = last_seq[row["conversation_id"]]
        assert 0 <= row["last_read_seq"] <= row["last_delivered_seq"] <= limit, row
    messages = await fetch(
        database_url,
        "SELECT conversation_id, sender_id, client_message_id, body, body_escaped, seq FROM messages "
        "WHERE conversation_id = ANY($1) ORDER BY conversation_id, seq",
        conversation_ids,
    )
    seqs: dict[str, list[int]] = {}
    for row in messages:
        assert _stored_text(row["body"], row["body_escaped"], MAX_BODY_CHARS), row
        assert is_valid_id(row["sender_id"]) and is_valid_id(row["client_message_id"], max_chars=128), row
        seqs.setdefault(row["conversation_id"], []).append(row["seq"])
    for conversation_id, newest in last_seq.items():
        assert seqs.get(conversation_id, []) == list(range(1, newest + 1)), conversation_id
    return len(messages)
