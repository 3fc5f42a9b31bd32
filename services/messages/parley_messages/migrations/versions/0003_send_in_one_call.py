"""A send batch in one round trip: the rate limit counted from the stored messages.

The index lets a send count its sender's messages of the last second (the limit of
PROTOCOL §4.2 is a limit on what is stored: duplicates and refusals are never stored, so they
never count). On PostgreSQL, ``parley_send_batch`` takes each sender's lock, then checks,
counts and stores the whole batch in one statement: see ``parley_messages/pg_send.py``.

A rolling upgrade is safe either way round: the previous release ignores the index and
the function; this release needs both, and the deployment runs migrations first.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Arguments: the sends as parallel arrays (batch order), the time (their createdAt, and the
# end of the rate limit's window), the limit and window, and the senders' locks, sorted.
# Per send, in batch order: whether the conversation exists and the sender is a member, the
# message stored before under its key (a duplicate), the seq it was stored with now, or the
# milliseconds to wait when the rate limit refused it.
SEND_FUNCTION = """
CREATE FUNCTION parley_send_batch(
  p_ids text[], p_conversation_ids text[], p_sender_ids text[], p_client_message_ids text[],
  p_bodies text[], p_now timestamptz, p_limit integer, p_window_ms integer, p_locks bigint[]
) RETURNS TABLE (
  found boolean, is_member boolean, old_id text, old_conversation_id text, old_body text,
  old_body_escaped boolean, old_seq bigint, old_created_at timestamptz, seq bigint, wait_ms integer
) LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  lock_key bigint;
  span interval := make_interval(secs => p_window_ms / 1000.0);
BEGIN
  -- One batch at a time per sender, in one order (no deadlock). The statement below starts
  -- after the locks, so its snapshot holds what the sender's earlier batches committed: a
  -- concurrent repeat is found stored, and the count of the last second is exact.
  FOREACH lock_key IN ARRAY p_locks LOOP
    PERFORM pg_advisory_xact_lock(lock_key);
  END LOOP;
  RETURN QUERY
  WITH input AS (
    SELECT * FROM unnest(p_ids, p_conversation_ids, p_sender_ids, p_client_message_ids, p_bodies)
      WITH ORDINALITY AS i(id, conversation_id, sender_id, client_message_id, body, ord)
  ), checked AS (
    SELECT i.*, c.id IS NOT NULL AS found, m.user_id IS NOT NULL AS is_member,
           old.id AS old_id, old.conversation_id AS old_conversation_id, old.body AS old_body,
           old.body_escaped AS old_body_escaped, old.seq AS old_seq, old.created_at AS old_created_at
    FROM input i
    LEFT JOIN conversations c ON c.id = i.conversation_id
    LEFT JOIN conversation_members m ON m.conversation_id = i.conversation_id AND m.user_id = i.sender_id
    LEFT JOIN messages old ON old.sender_id = i.sender_id AND old.client_message_id = i.client_message_id
  ), eligible AS (
    SELECT ch.*,
           row_number() OVER (PARTITION BY ch.sender_id, ch.client_message_id ORDER BY ch.ord) AS key_nth
    FROM checked ch WHERE ch.is_member AND ch.old_id IS NULL
  ), candidate AS (
    -- The first send of each new key; a later one is answered as that one is (by the caller).
    SELECT e.*, row_number() OVER (PARTITION BY e.sender_id ORDER BY e.ord) AS sender_nth
    FROM eligible e WHERE e.key_nth = 1
  ), recent AS (
    -- Per sender: how many of the last `limit` messages are in the window, and the oldest
    -- of them (the window admits again when it leaves).
    SELECT s.sender_id, count(r.created_at)::integer AS n, min(r.created_at) AS oldest
    FROM (SELECT DISTINCT sender_id FROM candidate) s
    LEFT JOIN LATERAL (
      SELECT m.created_at FROM messages m
      -- Stamped up to a window after now too: a concurrent batch can take the lock first
      -- with a later stamp. Not further: a clock set back must not hold a sender up as long.
      WHERE m.sender_id = s.sender_id AND m.created_at > p_now - span AND m.created_at <= p_now + span
      ORDER BY m.created_at DESC LIMIT p_limit
    ) r ON TRUE
    GROUP BY s.sender_id
  ), fresh AS (
    SELECT c.*, row_number() OVER (PARTITION BY c.conversation_id ORDER BY c.ord) AS pos
    FROM candidate c JOIN recent r ON r.sender_id = c.sender_id
    WHERE c.sender_nth <= p_limit - r.n
  ), wanted AS (
    SELECT conversation_id, count(*) AS n FROM fresh GROUP BY conversation_id
  ), locked AS (
    SELECT c.id FROM conversations c JOIN wanted w ON w.conversation_id = c.id
    ORDER BY c.id FOR UPDATE OF c
  ), bumped AS (
    UPDATE conversations c SET last_seq = c.last_seq + w.n
    FROM wanted w, locked l WHERE c.id = w.conversation_id AND l.id = c.id
    RETURNING c.id, c.last_seq AS last, w.n
  ), stored AS (
    INSERT INTO messages
      (id, conversation_id, sender_id, client_message_id, body, body_escaped, seq, created_at)
    SELECT f.id, f.conversation_id, f.sender_id, f.client_message_id, f.body, TRUE,
           b.last - b.n + f.pos, p_now
    FROM fresh f JOIN bumped b ON b.id = f.conversation_id
    ORDER BY f.ord
    RETURNING id, seq
  )
  SELECT ch.found, ch.is_member, ch.old_id::text, ch.old_conversation_id::text, ch.old_body::text,
         ch.old_body_escaped, ch.old_seq, ch.old_created_at, s.seq,
         CASE WHEN c.id IS NOT NULL AND f.id IS NULL THEN
           greatest(1, ceil(extract(epoch FROM coalesce(r.oldest, p_now) + span - p_now) * 1000))::integer
         END
  FROM checked ch
  LEFT JOIN candidate c ON c.id = ch.id
  LEFT JOIN fresh f ON f.id = ch.id
  LEFT JOIN recent r ON r.sender_id = ch.sender_id
  LEFT JOIN stored s ON s.id = ch.id
  ORDER BY ch.ord;
END
$fn$
"""


def upgrade() -> None:
    op.create_index("ix_messages_sender_created", "messages", ["sender_id", "created_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SEND_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION parley_send_batch")
    op.drop_index("ix_messages_sender_created", table_name="messages")
