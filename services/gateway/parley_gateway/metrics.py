"""The gateway's Prometheus metrics (served at /metrics)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

CONNECTED = Gauge("parley_gateway_connected_sockets", "Sockets connected to this gateway.")
REFUSED = Counter("parley_gateway_connections_refused_total", "Handshakes refused, by code.", ["code"])
EVENTS = Counter(
    "parley_gateway_events_total",
    "Client events answered, by event and outcome (ok or the error code).",
    ["event", "outcome"],
)
SEND_ACK = Histogram(
    "parley_gateway_send_ack_seconds", "message:send received to ack sent.", buckets=LATENCY_BUCKETS
)
INTERNAL_CALLS = Histogram(
    "parley_gateway_internal_call_seconds",
    "Calls to the messages service's internal API, by call.",
    ["call"],
    buckets=LATENCY_BUCKETS,
)
SLOW_READERS_CUT = Counter(
    "parley_gateway_slow_readers_cut_total",
    "Connections cut off because their client had more than MAX_OUTGOING_BYTES unread.",
)


class SocketsByTransport(Collector):
    """``parley_gateway_sockets{transport}``: connected sockets by the transport each uses at
    scrape time (a long-polling client that upgraded counts as ``websocket``), so that the
    share of clients stuck on long-polling behind a proxy shows (docs/migration.md)."""

    def __init__(self) -> None:
        self.source: Callable[[], Iterable[str]] | None = None  # the running gateway's sockets

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "parley_gateway_sockets", "Connected sockets by their current transport.", labels=["transport"]
        )
        counts = Tally(self.source() if self.source is not None else ())
        for transport in ("websocket", "polling"):
            family.add_metric([transport], counts.get(transport, 0))
        yield family


SOCKETS_BY_TRANSPORT = SocketsByTransport()
REGISTRY.register(SOCKETS_BY_TRANSPORT)
BUS_MESSAGES = Counter(
    "parley_gateway_bus_messages_total",
    "Bus messages this gateway received (one may batch several events of a room).",
)
BUS_EVENTS = Counter(
    "parley_gateway_bus_events_total", "Room and user events this gateway received on the bus."
)
BUS_CPU = Counter(
    "parley_gateway_bus_cpu_seconds_total",
    "CPU this gateway spent decoding bus messages and handing their events to its sockets.",
)
BUS_ROOMS = Gauge("parley_gateway_bus_channels", "Room and user channels this gateway is subscribed to.")
