"""Bodies and titles in the lossless form of PROTOCOL §4.2 (revised 2026-12-03): escaped.

Rows stored under the old rule hold plain text: markup was deleted and, where there was
markup, entities were unescaped, so what remains (``a < b``, ``AT&T``, ``&lt;`` typed without
markup) is exactly what older clients showed. Escaping ``&``, ``<``, ``>`` in them once gives
the new stored form of that same text, so old and new rows read the same through one decoder.

Escaping is not idempotent, so each row says whether it is escaped (``body_escaped``,
``title_escaped``): this migration escapes and marks the rows that need it; the release that
comes with it writes escaped, marked rows; rows the previous release still writes while it
serves (it knows nothing of the flag: the default, false) are escaped when read
(``parley_messages.models.read_text``). Rows without ``&``, ``<`` or ``>`` read the same either way,
so they are left alone (no rewrite of the whole table, no lock on idle conversations).

Downgrade decodes the marked rows and drops the flags: the exact inverse, so a downgrade and
upgrade again change nothing. Mind that the previous release then returns what this one stored
as it was typed, markup included (``<b>``), which its own rule would have deleted.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _escaped(column: str) -> str:
    return f"replace(replace(replace({column}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"


def _decoded(column: str) -> str:
    # "&amp;" last: every "&" of an escaped text starts one of the three entities.
    return f"replace(replace(replace({column}, '&lt;', '<'), '&gt;', '>'), '&amp;', '&')"


def _needs_escaping(column: str) -> str:
    return f"({column} LIKE '%&%' OR {column} LIKE '%<%' OR {column} LIKE '%>%')"


def upgrade() -> None:
    op.add_column(
        "messages", sa.Column("body_escaped", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column(
        "conversations", sa.Column("title_escaped", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    # Messages first: conversations' rows are locked by the second update until the commit,
    # and sends to a conversation take its row lock, so that lock is held as briefly as can be.
    op.execute(
        f"UPDATE messages SET body = {_escaped('body')}, body_escaped = TRUE "
        f"WHERE NOT body_escaped AND {_needs_escaping('body')}"
    )
    op.execute(
        f"UPDATE conversations SET title = {_escaped('title')}, title_escaped = TRUE "
        f"WHERE NOT title_escaped AND title IS NOT NULL AND {_needs_escaping('title')}"
    )


def downgrade() -> None:
    op.execute(f"UPDATE messages SET body = {_decoded('body')} WHERE body_escaped")
    op.execute(
        f"UPDATE conversations SET title = {_decoded('title')} WHERE title_escaped AND title IS NOT NULL"
    )
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("title_escaped")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("body_escaped")
