"""Issue 20's "no regression in the latency figures": yardstick chat (200 x 2 at 1000 msg/s,
``shared/bench/loadgen.mjs``) against ``make cluster`` with ``--gateways`` gateways, once with
``BUS_ROUTING=rooms`` and once with ``single`` per pair, the order alternating from pair to pair.
The load generator spreads sockets over the gateways round-robin, so with two gateways each
conversation's two members sit on different ones and every room is heard by every gateway: the
case where per-room channels save nothing and can only cost.

    .venv/bin/python bench/routing_latency.py --pairs 3     # about 5 minutes
    .venv/bin/python bench/routing_latency.py --report-only var/bench/routing-<stamp>/results.jsonl

Prints each run and the medians of ack p99, delivery p99 and server CPU (all Parley processes) per
routing; raw loadgen results go to var/bench/routing-<UTC stamp>/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.parley_bench import topology  # noqa: E402 - after the path set-up
from bench.parley_bench.log import log  # noqa: E402
from bench.yardstick import SCENARIOS, Result, run  # noqa: E402

ROUTINGS = ("rooms", "single")
FIGURES = (  # (column, path in a chat step)
    ("ack p50 ms", ("ackMs", "p50")),
    ("ack p99 ms", ("ackMs", "p99")),
    ("delivery p99 ms", ("deliveryMs", "p99")),
    ("server CPU %", ("usage", "serverCpuPct")),
)


def _figure(result: Result, path: tuple[str, ...]) -> float | None:
    value: Any = (result.get("steps") or [{}])[-1]
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def pairs(count: int, gateways: int, out: Path) -> list[Result]:
    records: list[Result] = []
    secret = f"bench-{uuid.uuid4().hex}"
    with (out / "results.jsonl").open("a") as sink:
        for n in range(count):
            for routing in ROUTINGS if n % 2 == 0 else ROUTINGS[::-1]:
                log(f"pair {n + 1}/{count}: {routing}, {gateways} gateway(s)")
                os.environ["BUS_ROUTING"] = routing  # read by every process the launcher starts
                load = os.getloadavg()[0]
                try:
                    server = topology.start_parley(gateways, secret, out)
                except RuntimeError as exc:
                    result: Result = {"error": f"start-up: {exc}"}
                else:
                    try:
                        result = run(server, "chat", secret)
                    finally:
                        server.stop()
                record = {"routing": routing, "pair": n, "gateways": gateways, "load1": load}
                record["result"] = result
                log(_line(record))
                records.append(record)
                sink.write(json.dumps(record) + "\n")
                sink.flush()
    return records


def _line(record: Result) -> str:
    result = record["result"]
    if "error" in result:
        return f"{record['routing']} pair {record['pair'] + 1}: FAILED {result['error']}"
    step = (result.get("steps") or [{}])[-1]
    shown = ", ".join(f"{name} {_figure(result, path)}" for name, path in FIGURES)
    return (
        f"{record['routing']} pair {record['pair'] + 1}: {shown}; "
        f"acked {step.get('acked')}/{step.get('sent')}, missing {step.get('missingDeliveries')}, "
        f"load {record.get('load1', 0):.1f}"
    )


def report(records: list[Result]) -> str:
    lines = [f"| routing | runs | {' | '.join(f'median {name}' for name, _ in FIGURES)} |"]
    lines.append("|---|---|" + "---|" * len(FIGURES))
    for routing in ROUTINGS:
        mine = [r for r in records if r["routing"] == routing and "error" not in r["result"]]
        cells = []
        for _, path in FIGURES:
            values = [v for v in (_figure(r["result"], path) for r in mine) if v is not None]
            cells.append(f"{statistics.median(values):.1f}" if values else "-")
        lines.append(f"| `{routing}` | {len(mine)} | {' | '.join(cells)} |")
    return "\n".join([_line(r) for r in records] + ["", *lines])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--gateways", type=int, default=2)
    p.add_argument("--report-only", type=Path, help="the medians again from a results.jsonl")
    args = p.parse_args()
    if args.report_only:
        records = [json.loads(line) for line in args.report_only.read_text().splitlines() if line.strip()]
    else:
        out = REPO / "var" / "bench" / time.strftime("routing-%Y%m%dT%H%M%SZ", time.gmtime())
        out.mkdir(parents=True, exist_ok=True)
        log(f"results in {out}; chat as the yardstick's: {' '.join(SCENARIOS['chat'])}")
        records = pairs(args.pairs, args.gateways, out)
    print(report(records))


if __name__ == "__main__":
    main()
