"""The messages service's Prometheus metrics (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

STORED = Counter("parley_messages_stored_total", "Messages stored (first sends).")
DUPLICATES = Counter("parley_messages_duplicates_total", "Sends answered as duplicates (retries).")
RATE_LIMITED = Counter("parley_messages_rate_limited_total", "Sends refused by the per-user rate limit.")
