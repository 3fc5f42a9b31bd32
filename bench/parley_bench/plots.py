"""The PNG figures of docs/performance.md (matplotlib, Agg backend; a bench-only dependency:
bench/requirements.txt). Each is drawn from the loadgen results of one ``make bench`` session."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from .report import Record, dig

COLORS = {"parley": "tab:blue", "peer": "tab:orange"}


def _ok(records: list[Record], server: str, key: str) -> list[dict[str, Any]]:
    return [
        r["result"]
        for r in records
        if r["server"] == server and r["key"] == key and "error" not in r["result"]
    ]


def _by_rate(results: list[dict[str, Any]], *path: str) -> tuple[list[float], list[float]]:
    """Median over the runs of one figure of each step, by offered rate."""
    values: dict[float, list[float]] = defaultdict(list)
    for result in results:
        for step in result.get("steps", []):
            if (value := dig(step, *path)) is not None:
                values[step["rate"]].append(value)
    rates = sorted(values)
    return rates, [statistics.median(values[r]) for r in rates]


def plot_all(records: list[Record], out_dir: Path, servers: list[str], slo_ms: float = 100) -> list[Path]:
    import matplotlib  # bench-only (bench/requirements.txt): imported when drawing

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    sweep_key = "sweep" if any(r["key"] == "sweep" for r in records) else "chat"

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for server in servers:
        results = _ok(records, server, sweep_key)
        for pct, style in (("p50", "-"), ("p99", "--")):
            rates, values = _by_rate(results, "ackMs", pct)
            ax.plot(rates, values, style, marker="o", color=COLORS.get(server), label=f"{server} ack {pct}")
    ax.axhline(slo_ms, color="grey", linewidth=0.8, linestyle=":", label=f"SLO p99 {slo_ms:g} ms")
    ax.set(
        xlabel="offered rate (msg/s)",
        ylabel="ack latency (ms, log)",
        yscale="log",
        title="Ack latency vs offered rate (chat, open loop)",
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    paths.append(_save(fig, out_dir / "latency_vs_rate.png"))

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for key, style in (("connect", "-"), ("connect-2", "--")):
        for server in servers:
            for i, result in enumerate(_ok(records, server, key)):
                timeline = result.get("rssTimeline") or []
                if not timeline:
                    continue
                base = timeline[0][1]
                label = f"{server}{' (2 gateways)' if key.endswith('-2') else ''}" if i == 0 else None
                ax.plot(
                    [p[0] for p in timeline],
                    [p[1] - base for p in timeline],
                    style,
                    color=COLORS.get(server),
                    alpha=0.9 if i == 0 else 0.35,
                    label=label,
                )
    ax.set(xlabel="connections open", ylabel="server RSS growth (MB)", title="Server memory vs connections")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    paths.append(_save(fig, out_dir / "rss_vs_connections.png"))

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for server in servers:
        results = _ok(records, server, sweep_key)
        rates, values = _by_rate(results, "cpuMsPerMessage", "server")
        left.plot(rates, values, "-", marker="o", color=COLORS.get(server), label=f"{server}")
        rates, values = _by_rate(results, "cpuMsPerMessage", "postgres")
        left.plot(
            rates, values, ":", marker=".", color=COLORS.get(server), label=f"PostgreSQL under {server}"
        )
    left.set(xlabel="offered rate (msg/s)", ylabel="CPU ms per message", title="CPU per message")
    left.grid(True, alpha=0.3)
    left.legend(fontsize=8)
    figures = [
        ("new connection (ms)", "cpuMsPerConnection"),
        ("1000 idle conns (% core)", "holdCpuPctPer1000"),
    ]
    width = 0.8 / max(1, len(servers))
    for s, server in enumerate(servers):
        results = _ok(records, server, "connect")
        heights = []
        for _, field in figures:
            values = [v for r in results if (v := dig(r, field, "server")) is not None]
            heights.append(statistics.median(values) if values else 0)
        xs = [i + s * width for i in range(len(figures))]
        right.bar(xs, heights, width, color=COLORS.get(server), label=server)
    right.set_xticks(
        [i + width * (len(servers) - 1) / 2 for i in range(len(figures))], [f[0] for f in figures]
    )
    right.set(title="Server CPU per connection")
    right.grid(True, axis="y", alpha=0.3)
    right.legend(fontsize=8)
    paths.append(_save(fig, out_dir / "cpu_per_unit.png"))
    return paths


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
