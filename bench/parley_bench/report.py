"""From the loadgen results of a ``make bench`` session to the generated part of docs/performance.md:
medians over the runs, Parley and the peer side by side, and the ratio."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
TIMES, DASH = "\u00d7", "\u2013"
NAMES = {"parley": "Parley", "peer": "peer"}
RETRIED = "set-up joins answered `unavailable` (then retried)"
Record = dict[str, Any]  # {"server", "run", "key", "argv", "result"}
Value = float | tuple[float | None, ...] | None


def dig(obj: Any, *path: str | int) -> Any:
    for part in path:
        if obj is None:
            return None
        obj = obj.get(part) if isinstance(obj, dict) else obj[part] if isinstance(part, int) else None
    return obj


def step_at(result: Record, rate: float) -> Record | None:
    return next((s for s in result.get("steps", []) if s["rate"] == rate), None)


def problems(step: Record | None) -> float | None:
    """Everything that must be 0: errors, unacked, lost, repeated and reordered messages."""
    if step is None:
        return None
    keys = ("noAck", "missingDeliveries", "duplicates", "outOfOrder")
    return float(
        sum(step["errors"].values())
        + sum(step[k] for k in keys)
        + step["sent"]
        - step["acked"]
        - step["noAck"]
    )


@dataclass
class Row:
    scenario: str
    metric: str
    key: str
    get: Callable[[Record], Value]
    worst: bool = False  # a count that must be 0: the worst run, not the median
    digits: int = 1


def _pair(*path: str | int) -> Callable[[Record], Value]:
    def get(r: Record) -> Value:
        return dig(r, *path, "p50"), dig(r, *path, "p99")

    return get


def _step_pair(rate: float, field: str) -> Callable[[Record], Value]:
    return lambda r: (dig(step_at(r, rate), field, "p50"), dig(step_at(r, rate), field, "p99"))


def _step(rate: float, *path: str) -> Callable[[Record], Value]:
    return lambda r: dig(step_at(r, rate), *path)


def _get(*path: str) -> Callable[[Record], Value]:
    return lambda r: dig(r, *path)


def _kb(r: Record) -> Value:
    value = dig(r, "serverRss", "bytesPerConnection")
    return None if value is None else value / 1024


def _connect_rows(what: str, key: str) -> list[Row]:
    def dropped(r: Record) -> Value:
        return float(dig(r, "connections", "failed") + dig(r, "connections", "disconnectsDuringHold"))

    return [
        Row(what, "connect p50 / p99 (ms)", key, _pair("connectMs")),
        Row(what, "connections/s reached", key, lambda r: r.get("connectRatePerSec"), digits=0),
        Row(what, "server RSS per connection (KB)", key, _kb),
        Row(what, "server CPU per new connection (ms)", key, _get("cpuMsPerConnection", "server"), digits=2),
        Row(
            what,
            "server CPU per 1000 idle connections (% of a core)",
            key,
            _get("holdCpuPctPer1000", "server"),
        ),
        Row(what, "failed + dropped while held", key, dropped, worst=True, digits=0),
    ]


def _chat_rows(what: str, key: str, rate: float) -> list[Row]:
    return [
        Row(what, "ack p50 / p99 (ms)", key, _step_pair(rate, "ackMs")),
        Row(what, "delivery p50 / p99 (ms)", key, _step_pair(rate, "deliveryMs")),
        Row(what, "server CPU per message (ms)", key, _step(rate, "cpuMsPerMessage", "server"), digits=2),
        Row(
            what, "PostgreSQL CPU per message (ms)", key, _step(rate, "cpuMsPerMessage", "postgres"), digits=2
        ),
        Row(
            what, "server RSS at the end of the step (MB)", key, _step(rate, "usage", "serverRssMB"), digits=0
        ),
        Row(
            what,
            "errors + lost + duplicate + out-of-order",
            key,
            lambda r: problems(step_at(r, rate)),
            worst=True,
            digits=0,
        ),
    ]


def _fanout_rows(what: str, key: str) -> list[Row]:
    def missing(r: Record) -> Value:
        return float(r["expectedDeliveries"] - r["deliveries"] + r["duplicates"])

    return [
        Row(what, "last-member receipt p50 / p99 (ms)", key, _pair("lastReceiptMs")),
        Row(what, "server CPU per delivery (ms)", key, _get("cpuMsPerDelivery", "server"), digits=3),
        Row(what, "receipts missing or repeated", key, missing, worst=True, digits=0),
        Row(what, RETRIED, key, _retries, worst=True, digits=0),
    ]


def _retries(r: Record) -> Value:
    retries = dig(r, "setup", "joinRetries")
    return None if retries is None else float(sum(retries.values()))


def rows(plan: dict[str, dict[str, str]]) -> list[Row]:
    """The table, for the sizes of this plan (``plan[key]`` = the loadgen flags of that key)."""
    out: list[Row] = []
    for suffix, label in (("", ""), ("-2", ", 2 gateways")):
        if (flags := plan.get(f"connect{suffix}")) is not None:
            out += _connect_rows(f"connect {flags['--n']} at {flags['--ramp']}/s{label}", f"connect{suffix}")
        if (flags := plan.get(f"chat{suffix}")) is not None:
            for rate in [float(v) for v in flags["--rate"].split(",")]:
                what = f"chat {flags['--conversations']}{TIMES}{flags['--members']}, {rate:g} msg/s{label}"
                out += _chat_rows(what, f"chat{suffix}", rate)
            out.append(Row(what, RETRIED, f"chat{suffix}", _retries, worst=True, digits=0))
        if suffix == "" and (flags := plan.get("sweep")) is not None:
            what = (
                f"chat {flags['--conversations']}{TIMES}{flags['--members']}, sweep {flags['--rate']} msg/s"
            )
            metric = f"highest msg/s with p99 < {flags.get('--slo-p99', '100')} ms, 0 errors"
            out.append(Row(what, metric, "sweep", lambda r: float(r.get("maxRateWithinSlo") or 0), digits=0))
            out.append(Row(what, RETRIED, "sweep", _retries, worst=True, digits=0))
        if (flags := plan.get(f"fanout{suffix}")) is not None:
            what = f"fanout {flags['--members']} members, {flags['--messages']} msgs{label}"
            out += _fanout_rows(what, f"fanout{suffix}")
    return out


def _windows(result: Record) -> list[Record]:
    if "steps" in result:
        return [s["usage"] | {"scheduleLagMs": s["scheduleLagMs"]} for s in result["steps"]]
    return [w for w in (result.get("ramp"), result.get("hold"), result.get("usage")) if w]


def loadgen_health(records: list[Record]) -> dict[str, float | None]:
    """The load generator's own figures: if it was starved, the run is suspect."""
    windows = [w for r in records if "error" not in r["result"] for w in _windows(r["result"])]
    busiest = [w.get("loadgenMaxProcessCpuPct") for w in windows]
    lag = [dig(w, "scheduleLagMs", "p99") for w in windows]
    other = [w.get("otherCpuPct") for w in windows]
    return {
        "loadgenMaxProcessCpuPct": max((v for v in busiest if v is not None), default=None),
        "scheduleLagP99Ms": max((v for v in lag if v is not None), default=None),
        "otherCpuPctMedian": _median([v for v in other if v is not None]),
    }


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def combine(values: list[Value], worst: bool) -> Value:
    """Median over the runs (the worst run for counts that must be 0), element-wise for pairs."""

    def pick(column: list[float]) -> float | None:
        return (max(column) if worst else statistics.median(column)) if column else None

    present = [v for v in values if v is not None]
    if not present:
        return None
    if isinstance(present[0], tuple):
        width = len(present[0])
        return tuple(
            pick([float(x) for v in present if isinstance(v, tuple) and (x := v[i]) is not None])
            for i in range(width)
        )
    return pick([float(v) for v in present if not isinstance(v, tuple)])


def fmt(value: Value, digits: int) -> str:
    if value is None:
        return DASH
    if isinstance(value, tuple):
        return " / ".join(fmt(v, digits) for v in value)
    return f"{value:,.{digits}f}"


def _ratio(a: Value, b: Value) -> str:
    if isinstance(a, tuple) and isinstance(b, tuple):
        parts = [_ratio(x, y) for x, y in zip(a, b, strict=False)]
        return " / ".join(parts) if any(p != DASH for p in parts) else DASH
    if isinstance(a, float | int) and isinstance(b, float | int) and b:
        return f"{a / b:.2f}{TIMES}" if a / b < 10 else f"{a / b:.0f}{TIMES}"
    return DASH


def table(records: list[Record], plan: dict[str, Any], servers: list[str]) -> str:
    ratio = " | Parley / peer |" if len(servers) > 1 else " |"
    header = "| scenario | metric | " + " | ".join(NAMES.get(s, s) for s in servers) + ratio
    lines = [header, "|" + "---|" * (len(servers) + 2 + (len(servers) > 1))]
    last = None
    for row in rows(plan):
        cells = {}
        for server in servers:
            values = [
                row.get(r["result"])
                for r in records
                if r["server"] == server and r["key"] == row.key and "error" not in r["result"]
            ]
            cells[server] = combine(values, row.worst)
        line = f"| {row.scenario if row.scenario != last else ''} | {row.metric} | "
        line += " | ".join(fmt(cells[s], row.digits) for s in servers)
        if len(servers) > 1:
            line += f" | {'' if row.worst else _ratio(cells['parley'], cells['peer'])}"
        lines.append(line + " |")
        last = row.scenario
    return "\n".join(lines)


def splice(doc: Path, block: str, heading: str) -> None:
    """Replace what is between the markers (or append a section with them): the rest is hand-written."""
    text = doc.read_text() if doc.exists() else ""
    generated = f"{BEGIN}\n{block.strip()}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + generated + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n{generated}\n"
    tmp = doc.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(doc)
