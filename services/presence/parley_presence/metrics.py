"""The presence service's Prometheus metrics (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

TRANSITIONS = Counter("parley_presence_transitions_total", "Presence transitions announced.", ["kind"])
REPORTS = Counter("parley_presence_reports_applied_total", "Gateway reports applied.")
LEADER = Gauge("parley_presence_leader", "1 while this replica holds the leader lease.")
REAPED = Counter("parley_presence_reaped_sockets_total", "Sockets dropped from dead gateways.")
