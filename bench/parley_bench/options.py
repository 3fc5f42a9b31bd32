"""Command-line options: the same names, defaults and meanings as shared/bench/loadgen.mjs,
plus ``--workers`` (sockets spread over that many processes)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields
from typing import Any


def _numbers(text: str) -> list[float]:
    values = [float(v) for v in text.split(",") if v.strip()]
    return [int(v) if v.is_integer() else v for v in values]


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


@dataclass
class Options:
    scenario: str = "chat"
    urls: tuple[str, ...] = ("http://127.0.0.1:3000",)
    secret: str = "dev-secret"
    iss: str | None = None
    aud: str | None = None
    token_ttl: int = 3600
    pid: str = ""
    pid_tree: bool = False
    watch: tuple[str, ...] = ("postgres", "redis-server")
    label: str | None = None
    max_inflight: int = 200
    connect_timeout: float = 20_000  # ms
    workers: int = 1
    # connect
    n: int = 1000
    ramp: float = 500
    hold: float = 10
    warmup_conns: int = 200
    rss_every: float = 0.5  # s between RSS samples during the ramp (rssTimeline)
    settle: float = 1  # s: after set-up, presence events must stop for this long (and after the warm-up)
    # chat
    conversations: int = 200
    members: int = 0  # 0: 2 for chat, 500 for fanout
    rate: tuple[float, ...] = (200,)
    duration: float = 10
    warmup: float = 3
    body_size: int = 80
    max_user_rate: float = 5
    slo_p99: float = 100
    stop_after_fails: int = 2
    drain: float = 5
    timeline: bool = False
    # fanout
    messages: int = 20
    interval: float = 200  # ms

    @property
    def room_size(self) -> int:
        return self.members or (500 if self.scenario == "fanout" else 2)

    def params(self) -> dict[str, Any]:
        """The parameters of this run, named as in loadgen.mjs's output."""
        common = {
            "urls": self.urls,
            "transport": "websocket",
            "pids": self.pid,
            "pidTree": self.pid_tree,
            "tokenTtl": self.token_ttl,
            "inflight": self.max_inflight,
            "workers": self.workers,
        }
        if self.scenario == "connect":
            return common | {
                "n": self.n,
                "ramp": self.ramp,
                "hold": self.hold,
                "warmupConns": self.warmup_conns,
            }
        if self.scenario == "fanout":
            return common | {
                "members": self.room_size,
                "messages": self.messages,
                "interval": self.interval,
                "drain": self.drain,
            }
        return common | {
            "conversations": self.conversations,
            "members": self.room_size,
            "rates": self.rate,
            "duration": self.duration,
            "warmup": self.warmup,
            "bodySize": self.body_size,
            "maxUserRate": self.max_user_rate,
            "sloP99": self.slo_p99,
            "stopAfterFails": self.stop_after_fails,
            "drain": self.drain,
        }


def parse(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(prog="python -m bench.parley_bench", description=__doc__)
    p.add_argument("--scenario", choices=["connect", "chat", "fanout"], default="chat")
    p.add_argument(
        "--url",
        dest="urls",
        type=_names,
        default=["http://127.0.0.1:3000"],
        help="base URL(s), comma separated: sockets alternate, HTTP goes to the first",
    )
    p.add_argument("--secret", default="dev-secret")
    p.add_argument("--iss")
    p.add_argument("--aud")
    p.add_argument("--token-ttl", type=int, default=3600)
    p.add_argument("--transport", choices=["websocket"], default="websocket")
    p.add_argument("--pid", default="", help="server pids, comma separated, each optionally LABEL:PID")
    p.add_argument("--pid-tree", action="store_true", help="add every descendant of --pid")
    p.add_argument("--watch", type=_names, default=["postgres", "redis-server"])
    p.add_argument("--label")
    p.add_argument("--max-inflight", type=int, default=200)
    p.add_argument("--connect-timeout", type=float, default=20_000, help="ms")
    p.add_argument("--workers", type=int, default=1, help="processes holding the sockets")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--ramp", type=float, default=500)
    p.add_argument("--hold", type=float, default=10)
    p.add_argument("--warmup-conns", type=int, default=200)
    p.add_argument("--rss-every", type=float, default=0.5)
    p.add_argument("--settle", type=float, default=1, help="s without presence events before measuring")
    p.add_argument("--conversations", type=int, default=200)
    p.add_argument("--members", type=int, default=0)
    p.add_argument("--rate", type=_numbers, default=[200.0])
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--warmup", type=float, default=3)
    p.add_argument("--body-size", type=int, default=80)
    p.add_argument("--max-user-rate", type=float, default=5)
    p.add_argument("--slo-p99", type=float, default=100)
    p.add_argument("--stop-after-fails", type=int, default=2)
    p.add_argument("--drain", type=float, default=5)
    p.add_argument("--timeline", action="store_true")
    p.add_argument("--messages", type=int, default=20)
    p.add_argument("--interval", type=float, default=200)
    ns = vars(p.parse_args(argv))
    ns.pop("transport")
    names = {f.name for f in fields(Options)}
    ns = {k: tuple(v) if isinstance(v, list) else v for k, v in ns.items() if k in names}
    if ns["workers"] < 1:
        p.error("--workers must be at least 1")
    return Options(**ns)
