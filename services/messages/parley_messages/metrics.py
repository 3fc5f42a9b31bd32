"""The messages service's Prometheus metrics (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

STORED = Counter("parley_messages_stored_total", "Messages stored (first sends).")
DUPLICATES = Counter("parley_messages_duplicates_total", "Sends answered as duplicates (retries).")
RATE_LIMITED = Counter("parley_messages_rate_limited_total", "Sends refused by the per-user rate limit.")

# By transport (PROTOCOL §7): "socket" is what came through a gateway's internal call, "http" the
# public API of polling clients. Requests, answered or refused (docs/migration.md says what to watch).
SENDS = Counter("parley_messages_sends_total", "Send requests, by transport.", ["transport"])
SYNCS = Counter(
    "parley_messages_syncs_total", "messages:sync and GET …/messages requests, by transport.", ["transport"]
)
RECEIPTS = Counter("parley_messages_receipts_total", "delivered/read marks, by transport.", ["transport"])
CONVERSATION_READS = Counter(
    "parley_messages_conversation_reads_total",
    "GET /api/conversations/{id} (polled by HTTP clients for receipts and presence).",
)
CLIENT_CONFIG_READS = Counter("parley_messages_client_config_reads_total", "GET /api/client-config requests.")
