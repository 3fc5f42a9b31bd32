"""Migration 0002: rows stored under the old (deleting) rule read like new ones, through one
decoder, on both backends; rows the previous release writes while the new one serves too.

The old rule deleted markup and left the rest as plain text (``a < b``, ``AT&T``, and entities
typed without markup, ``&lt;b&gt;``, kept as typed): what older clients showed is that text, so
decoding the migrated row must give it back exactly.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from parley_common.config import normalize_database_url
from parley_common.sanitize import is_sanitized, unescape_text
from parley_messages.migrate import alembic_config, upgrade
from tests.conftest import _admin, _asyncpg_dsn, _server_url
from tests.messages.conftest import make_settings, serve

# What the old rule could have stored (it never held "<" before a letter).
OLD_BODIES = [
    "plain words",
    "a < b and c > d",
    "AT&T",
    "&lt;b&gt; typed as entities",
    "&amp;amp;",
    "I <3 you",
    "😀 <- emoji, é, שלום",
]
OLD_TITLE = "R&D <3"
ALICE, BOB = "alice", "bob"


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of this test alone, with no schema yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    name = f"parley_migration_{uuid.uuid4().hex[:12]}"
    try:
        await _admin(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL is unreachable: {exc!r}")
    try:
        yield _asyncpg_dsn(_server_url(), name)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def execute(url: str, sql: str, rows: list[dict[str, Any]] | None = None) -> list[Any]:
    engine = create_async_engine(normalize_database_url(url))
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql), rows or [{}])
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


async def store_as_the_old_release(url: str, conversation_id: str, bodies: list[str], first_seq: int) -> None:
    """INSERTs as release 0001's code wrote them: it knows nothing of the escaped flags."""
    now = datetime(2026, 12, 1, tzinfo=UTC).replace(tzinfo=None)
    await execute(
        url,
        "INSERT INTO messages (id, conversation_id, sender_id, client_message_id, body, seq, created_at) "
        "VALUES (:id, :conversation_id, :sender_id, :key, :body, :seq, :created_at)",
        [
            {
                "id": uuid.uuid4().hex,
                "conversation_id": conversation_id,
                "sender_id": ALICE,
                "key": uuid.uuid4().hex,
                "body": body,
                "seq": seq,
                "created_at": now,
            }
            for seq, body in enumerate(bodies, start=first_seq)
        ],
    )
    await execute(
        url,
        "UPDATE conversations SET last_seq = :seq WHERE id = :id",
        [{"seq": first_seq + len(bodies) - 1, "id": conversation_id}],
    )


async def old_conversation(url: str) -> str:
    conversation_id = uuid.uuid4().hex
    await execute(
        url,
        "INSERT INTO conversations (id, title, created_by, created_at, last_seq) "
        "VALUES (:id, :title, :by, :at, 0)",
        [{"id": conversation_id, "title": OLD_TITLE, "by": ALICE, "at": datetime(2026, 12, 1)}],
    )
    await execute(
        url,
        "INSERT INTO conversation_members (conversation_id, user_id, last_delivered_seq, last_read_seq) "
        "VALUES (:c, :u, 0, 0)",
        [{"c": conversation_id, "u": ALICE}, {"c": conversation_id, "u": BOB}],
    )
    await store_as_the_old_release(url, conversation_id, OLD_BODIES, 1)
    return conversation_id


async def stored_rows(url: str) -> list[tuple[str, bool]]:
    rows = await execute(url, "SELECT body, body_escaped FROM messages ORDER BY seq")
    return [(row.body, bool(row.body_escaped)) for row in rows]


async def test_old_and_new_rows_read_the_same_through_one_decoder(empty_database: str) -> None:
    url = empty_database
    await asyncio.to_thread(upgrade, url, "0001")
    conversation_id = await old_conversation(url)

    await asyncio.to_thread(upgrade, url)
    migrated = await stored_rows(url)
    # The previous release is still serving during the rollout: it writes rows of its own.
    await store_as_the_old_release(url, conversation_id, ["still old: a<3 & >"], len(OLD_BODIES) + 1)
    await asyncio.to_thread(upgrade, url)  # a re-run (another replica, a retried Job) does nothing

    async with serve(make_settings(url)) as api:
        sent = await api.send(ALICE, conversation_id, body="new: if a<b then &lt; & AT&T")
        assert sent.status_code == 201, sent.text
        listed = await api.client.get(f"/api/conversations/{conversation_id}/messages", headers=api.auth(BOB))
        fetched = await api.client.get(f"/api/conversations/{conversation_id}", headers=api.auth(BOB))

    bodies = [m["body"] for m in listed.json()["messages"]]
    assert all(is_sanitized(body) for body in bodies), bodies
    assert [unescape_text(body) for body in bodies] == [
        *OLD_BODIES,
        "still old: a<3 & >",
        "new: if a<b then &lt; & AT&T",
    ]
    assert unescape_text(fetched.json()["title"]) == OLD_TITLE
    assert is_sanitized(fetched.json()["title"])
    # Only rows with "&", "<" or ">" were rewritten; the rest read the same unescaped.
    assert migrated == [
        ("plain words", False),
        ("a &lt; b and c &gt; d", True),
        ("AT&amp;T", True),
        ("&amp;lt;b&amp;gt; typed as entities", True),
        ("&amp;amp;amp;", True),
        ("I &lt;3 you", True),
        ("😀 &lt;- emoji, é, שלום", True),
    ]
    assert (await stored_rows(url))[-2:] == [
        ("still old: a<3 & >", False),
        ("new: if a&lt;b then &amp;lt; &amp; AT&amp;T", True),
    ]


async def test_downgrade_is_the_exact_inverse(empty_database: str) -> None:
    url = empty_database
    await asyncio.to_thread(upgrade, url, "0001")
    conversation_id = await old_conversation(url)
    before = await execute(url, "SELECT body FROM messages ORDER BY seq")

    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0001")
    after_downgrade = await execute(url, "SELECT body FROM messages ORDER BY seq")
    title = await execute(url, "SELECT title FROM conversations WHERE id = :id", [{"id": conversation_id}])
    await asyncio.to_thread(upgrade, url)

    assert after_downgrade == before
    assert title[0].title == OLD_TITLE
    assert [unescape_text(body) for body, _ in await stored_rows(url)] == OLD_BODIES
