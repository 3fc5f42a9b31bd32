"""The table of issue 19, measured with the yardstick (``shared/bench/loadgen.mjs``): Parley's
production topology with one gateway (``make cluster``, GATEWAYS=1, a fresh database) against the
Node.js peer (``shared/peer``, one process, a fresh database), alternately, ``--rounds`` times, each
server freshly started for each scenario; medians and ratios (Parley / peer).

    .venv/bin/python bench/yardstick.py                  # 3 rounds, ~30 min; `make bench` runs it
    .venv/bin/python bench/yardstick.py --rounds 1 --only chat

Needs ``npm ci`` in ../shared/bench and ../shared/peer. Raw results (one loadgen JSON per line) go to
var/bench/yardstick-<UTC stamp>/results.jsonl; the table is printed and written into
docs/performance.md between its ``yardstick`` markers (``--no-doc``: printed only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
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
from bench.parley_bench.report import DASH, TIMES  # noqa: E402
from bench.run_bench import SHARED  # noqa: E402

Result = dict[str, Any]
BEGIN, END = "<!-- yardstick:begin (bench/yardstick.py writes this part) -->", "<!-- yardstick:end -->"
SWEEP = "1000,1500,2000,2500,3000,3500,4000"
SCENARIOS = {
    "chat": ["--scenario", "chat", "--conversations", "200", "--members", "2", "--rate", "1000",
             "--duration", "10", "--stop-after-fails", "0"],
    "sweep": ["--scenario", "chat", "--conversations", "1000", "--members", "2", "--rate", SWEEP,
              "--duration", "10", "--stop-after-fails", "2"],
    "fanout": ["--scenario", "fanout", "--members", "1000", "--messages", "20", "--interval", "200",
               "--max-inflight", "20"],
    "idle": ["--scenario", "connect", "--n", "10000", "--ramp", "500", "--hold", "20"],
}  # fmt: skip
DEFAULT = "chat,sweep,fanout"  # idle (10,000 sockets) on request: it holds ~20,000 descriptors


def _step(result: Result) -> Result:
    steps: list[Result] = result.get("steps") or [{}]
    return steps[-1]


def _dig(result: Result, *path: str) -> float | None:
    for key in path:
        result = result.get(key) or {}
    return float(result) if isinstance(result, int | float) else None


def _within(result: Result) -> float | None:
    rate = result.get("maxRateWithinSlo")
    return float(rate) if rate is not None else None


# (row, scenario, what is read off a result, lower is better)
ROWS: list[tuple[str, str, Callable[[Result], float | None], bool]] = [
    (
        "chat 200 x 2 at 1000 msg/s: ack p99 (ms)",
        "chat",
        lambda r: _step(r).get("ackMs", {}).get("p99"),
        True,
    ),
    (
        "the same: server CPU (% of a core; Parley: all three processes)",
        "chat",
        lambda r: _step(r).get("usage", {}).get("serverCpuPct"),
        True,
    ),
    ("chat 1000 x 2: highest rate with ack p99 < 100 ms (msg/s)", "sweep", _within, False),
    (
        "fan-out to 1,000 members: last member p99 (ms)",
        "fanout",
        lambda r: r.get("lastReceiptMs", {}).get("p99"),
        True,
    ),
    (
        "10,000 idle sockets: bytes per connection",
        "idle",
        lambda r: (r.get("serverRss") or {}).get("bytesPerConnection"),  # loadgen nests it there
        True,
    ),
]


def run(server: topology.Server, scenario: str, secret: str) -> Result:
    pids = ",".join(str(pid) for _, pid in server.pids)
    # Several gateways: loadgen.mjs spreads the sockets over them round-robin.
    urls = ",".join(server.urls)
    argv = ["node", "bench/loadgen.mjs", "--url", urls, "--secret", secret, "--pid", pids]
    done = subprocess.run(
        [*argv, *SCENARIOS[scenario]], cwd=SHARED, stdout=subprocess.PIPE, timeout=1800, check=False
    )
    try:
        result: Result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {"error": f"loadgen printed no result (exit status {done.returncode})"}
    return result


def rounds(names: list[str], scenarios: list[str], count: int, out: Path) -> list[Result]:
    records: list[Result] = []
    secret = f"bench-{uuid.uuid4().hex}"
    with (out / "results.jsonl").open("a") as sink:
        for n in range(count):
            for scenario in scenarios:
                for name in names if n % 2 == 0 else names[::-1]:  # alternate who goes first
                    log(f"round {n + 1}/{count}: {name} {scenario}")
                    try:
                        if name == "parley":
                            server = topology.start_parley(1, secret, out)
                        else:
                            server = topology.start_peer(1, secret, SHARED, out)
                    except RuntimeError as exc:  # not ready in time: a loaded box, recorded as a failed run
                        result: Result = {"error": f"start-up: {exc}"}
                    else:
                        try:
                            result = run(server, scenario, secret)
                        finally:
                            server.stop()
                    if "error" in result:
                        log(f"{name} {scenario} FAILED: {result['error']}")
                    record = {"server": name, "round": n, "scenario": scenario, "result": result}
                    records.append(record)
                    sink.write(json.dumps(record) + "\n")
                    sink.flush()
    return records


def table(records: list[Result], scenarios: list[str]) -> str:
    lines = [
        "| scenario | peer (runs) | Parley (runs) | ratio Parley / peer (medians) |",
        "|---|---|---|---|",
    ]
    for row, scenario, read, _ in ROWS:
        if scenario not in scenarios:
            continue
        runs = {
            name: [read(r["result"]) for r in records if r["server"] == name and r["scenario"] == scenario]
            for name in ("peer", "parley")
        }
        cells, medians = [], {}
        for name in ("peer", "parley"):
            values = [v for v in runs[name] if v is not None]
            medians[name] = statistics.median(values) if values else None
            shown = ", ".join(DASH if v is None else f"{v:,.1f}" for v in runs[name])
            cells.append(
                f"**{medians[name]:,.1f}** ({shown})" if medians[name] is not None else f"{DASH} ({shown})"
            )
        peer, parley = medians["peer"], medians["parley"]
        ratio = f"{parley / peer:.2f}{TIMES}" if peer and parley is not None else DASH
        lines.append(f"| {row} | {cells[0]} | {cells[1]} | {ratio} |")
    noise = [
        r["result"].get("usage", _step(r["result"]).get("usage", {})).get("otherCpuPct")
        for r in records
        if "error" not in r["result"]
    ]
    seen = [n for n in noise if n is not None]
    if seen:
        lines.append("")
        lines.append(
            f"Other load on the box during the runs (`otherCpuPct`, % of one core): median "
            f"{statistics.median(seen):.0f}, range {min(seen):.0f}{DASH}{max(seen):.0f}."
        )
    failed = [
        f"{r['server']} {r['scenario']} (round {r['round'] + 1})" for r in records if "error" in r["result"]
    ]
    if failed:
        lines.append(f"Runs that failed (no figure): {', '.join(failed)}.")
    return "\n".join(lines)


def splice(doc: Path, block: str) -> None:
    text = doc.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + BEGIN + "\n" + block + "\n" + END + rest.split(END, 1)[1]
    else:
        text = (
            text.rstrip("\n") + f"\n\n## Issue 19's table (`bench/yardstick.py`)\n\n{BEGIN}\n{block}\n{END}\n"
        )
    doc.write_text(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default=DEFAULT, help=f"comma-separated: {','.join(SCENARIOS)}")
    p.add_argument("--doc", type=Path, default=REPO / "docs" / "performance.md")
    p.add_argument("--no-doc", action="store_true")
    p.add_argument("--report-only", type=Path, help="the table again from a results.jsonl")
    args = p.parse_args()
    scenarios = args.only.split(",")
    if args.report_only:
        records = [json.loads(line) for line in args.report_only.read_text().splitlines() if line.strip()]
        # rounds numbered as they come when several files were joined
        for n, record in enumerate(records):
            record["round"] = sum(
                1
                for r in records[:n]
                if (r["server"], r["scenario"]) == (record["server"], record["scenario"])
            )
        scenarios = [s for s in SCENARIOS if any(r["scenario"] == s for r in records)]
    else:
        if not topology.peer_available(SHARED):
            raise SystemExit(f"no {SHARED}/peer with node_modules (npm ci there and in {SHARED}/bench)")
        out = REPO / "var" / "bench" / time.strftime("yardstick-%Y%m%dT%H%M%SZ", time.gmtime())
        out.mkdir(parents=True, exist_ok=True)
        log(f"results in {out}")
        records = rounds(["parley", "peer"], scenarios, args.rounds, out)
    block = table(records, scenarios)
    print(block)
    if not args.no_doc:
        splice(args.doc, block)
        log(f"wrote the table into {args.doc}")


if __name__ == "__main__":
    main()
