"""Parley's load generator next to the yardstick, ``shared/bench/loadgen.mjs``: both against ONE
Parley cluster (``make cluster`` with GATEWAYS=1 on a fresh database), the same scenario, alternately,
``--runs`` times; prints a markdown table of medians (raw results in var/bench/compare-<stamp>.jsonl).

    .venv/bin/python bench/compare_loadgens.py --runs 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.parley_bench import topology  # noqa: E402 - after the path set-up
from bench.parley_bench.log import log  # noqa: E402
from bench.parley_bench.report import TIMES, Value, combine, dig, fmt, step_at  # noqa: E402
from bench.run_bench import SHARED, run_loadgen  # noqa: E402

SCENARIOS = {
    "chat": ["--scenario", "chat", "--conversations", "200", "--members", "2", "--rate", "200,1000",
             "--duration", "10", "--stop-after-fails", "0"],
    "connect": ["--scenario", "connect", "--n", "1000", "--ramp", "500", "--hold", "5"],
    "fanout": ["--scenario", "fanout", "--members", "500", "--messages", "20", "--interval", "200",
               "--max-inflight", "20"],
}  # fmt: skip


def _get(*path: str | int, rate: float | None = None) -> Callable[[dict[str, Any]], Any]:
    return lambda r: dig(step_at(r, rate) if rate is not None else r, *path)


def _pair(*path: str, rate: float | None = None) -> Callable[[dict[str, Any]], Any]:
    return lambda r: (_get(*path, "p50", rate=rate)(r), _get(*path, "p99", rate=rate)(r))


def _kb(r: dict[str, Any]) -> float | None:
    value = dig(r, "serverRss", "bytesPerConnection")
    return None if value is None else value / 1024


def rows() -> list[tuple[str, str, Callable[[dict[str, Any]], Any]]]:
    out: list[tuple[str, str, Callable[[dict[str, Any]], Any]]] = []
    for rate in (200, 1000):
        what = f"chat 200{TIMES}2, {rate} msg/s"
        out += [
            (what, "ack p50 / p99 (ms)", _pair("ackMs", rate=rate)),
            (what, "delivery p50 / p99 (ms)", _pair("deliveryMs", rate=rate)),
            (what, "acks/s", _get("ackThroughput", rate=rate)),
            (what, "server CPU (% of a core)", _get("usage", "serverCpuPct", rate=rate)),
            (what, "load generator CPU (% of a core)", _get("usage", "loadgenCpuPct", rate=rate)),
            (what, "PostgreSQL CPU (% of a core)", _get("usage", "postgresCpuPct", rate=rate)),
            (what, "other load on the box (%)", _get("usage", "otherCpuPct", rate=rate)),
        ]
    what = "connect 1000 at 500/s"
    out += [
        (what, "connect p50 / p99 (ms)", _pair("connectMs")),
        (what, "connections/s", _get("connectRatePerSec")),
        (what, "server RSS per connection (KB)", _kb),
        (what, "server CPU during the ramp (%)", _get("ramp", "serverCpuPct")),
        (what, "load generator CPU during the ramp (%)", _get("ramp", "loadgenCpuPct")),
        (what, "server CPU while holding (%)", _get("hold", "serverCpuPct")),
        (what, "load generator CPU while holding (%)", _get("hold", "loadgenCpuPct")),
    ]
    what = "fanout 500 members"
    out += [
        (what, "last-member receipt p50 / p99 (ms)", _pair("lastReceiptMs")),
        (what, "server CPU (%)", _get("usage", "serverCpuPct")),
        (what, "load generator CPU (%)", _get("usage", "loadgenCpuPct")),
    ]
    return out


def ratio(a: Value, b: Value) -> str:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return " / ".join(ratio(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, float | int) and isinstance(b, float | int) and b:
        return f"{a / b:.2f}"
    return "-"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--only", default=",".join(SCENARIOS))
    args = p.parse_args()
    out = REPO / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    sink = (out / f"compare-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.jsonl").open("w")
    secret = f"bench-{uuid.uuid4().hex}"
    server = topology.start_parley(1, secret, out)
    pids = server.pid_spec
    records: list[dict[str, Any]] = []
    try:
        for run in range(args.runs):
            for key in args.only.split(","):
                tools = ["mjs", "py"] if run % 2 == 0 else ["py", "mjs"]
                for tool in tools:
                    common = ["--url", server.urls[0], "--secret", secret, *SCENARIOS[key]]
                    if tool == "mjs":
                        argv = ["node", str(SHARED / "bench" / "loadgen.mjs"), *common,
                                "--pid", ",".join(p.split(":")[1] for p in pids.split(","))]  # fmt: skip
                    else:
                        argv = [sys.executable, "-m", "bench.parley_bench", *common, "--pid", pids]
                    log(f"run {run + 1}: {tool} {key}")
                    result = run_loadgen(argv)
                    record = {"tool": tool, "run": run, "key": key, "result": result}
                    records.append(record)
                    sink.write(json.dumps(record) + "\n")
                    sink.flush()
    finally:
        server.stop()
        sink.close()
    lines = [
        "| scenario | metric | loadgen.mjs | parley_bench | parley_bench / mjs |",
        "|---|---|---|---|---|",
    ]
    last = None
    for what, metric, get in rows():
        key = what.split(" ")[0]
        cells = []
        for tool in ("mjs", "py"):
            values = [get(r["result"]) for r in records if r["tool"] == tool and r["key"] == key
                      and "error" not in r["result"]]  # fmt: skip
            cells.append(combine(values, worst=False))
        if all(c is None for c in cells):
            continue
        lines.append(f"| {what if what != last else ''} | {metric} | {fmt(cells[0], 1)} | {fmt(cells[1], 1)} "
                     f"| {ratio(cells[1], cells[0])} |")  # fmt: skip
        last = what
    print("\n".join(lines))


if __name__ == "__main__":
    main()
