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
from parley_common.sanitize import MAX_BODY_CHARS, sanitize_body
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


def _clean_text(text: str) -> bool:
    return sanitize_body(text) == text


async def assert_nothing_stored_is_garbage(database_url: str, conversation_ids: list[str]) -> int:
    """Every row of these conversations is what the wire models allow; returns the message count.

    Messages: a sanitized body (PROTOCOL §4.2: sanitizing it again changes nothing) of
    1-4000 code points, valid ids, seqs 1..n without gaps. Conversations: a sanitized title
    of at most 200 characters or none. Members: valid ids, watermarks within 0..lastSeq.
    """
    conversations = await fetch(
        database_url,
        "SELECT id, title, created_by, last_seq FROM conversations WHERE id = ANY($1)",
        conversation_ids,
    )
    assert len(conversations) == len(set(conversation_ids))
    last_seq = {row["id"]: row["last_seq"] for row in conversations}
    for row in conversations:
        assert row["title"] is None or (_clean_text(row["title"]) and 0 < len(row["title"]) <= 200), row
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
        "SELECT conversation_id, sender_id, client_message_id, body, seq FROM messages "
        "WHERE conversation_id = ANY($1) ORDER BY conversation_id, seq",
        conversation_ids,
    )
    seqs: dict[str, list[int]] = {}
    for row in messages:
        assert _clean_text(row["body"]) and 0 < len(row["body"]) <= MAX_BODY_CHARS, row
        assert is_valid_id(row["sender_id"]) and is_valid_id(row["client_message_id"], max_chars=128), row
        seqs.setdefault(row["conversation_id"], []).append(row["seq"])
    for conversation_id, newest in last_seq.items():
        assert seqs.get(conversation_id, []) == list(range(1, newest + 1)), conversation_id
    return len(messages)
