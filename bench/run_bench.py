"""``make bench``: Parley's production topology (``make cluster``) on a fresh database, measured by
Parley's own load generator (``python -m bench.parley_bench``) in every scenario, optionally side by
side with the Node.js peer (``../shared/peer``) run alternately; medians over ``--runs``. Writes the
generated part of docs/performance.md (between its ``bench`` markers) and the plots in docs/perf/.

    .venv/bin/python bench/run_bench.py                 # full: a few minutes
    .venv/bin/python bench/run_bench.py --quick         # tiny sizes (or BENCH_QUICK=1)
    .venv/bin/python bench/run_bench.py --runs 3 --with-peer yes
    .venv/bin/python bench/run_bench.py --report-only var/bench/<stamp>/results.jsonl

Raw results (one loadgen JSON per line) and the servers' logs go to var/bench/<UTC stamp>/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.parley_bench import docblock, report, topology  # noqa: E402 - after the path set-up
from bench.parley_bench.log import log  # noqa: E402

SHARED = REPO.parent / "shared"
Plan = dict[str, dict[str, str]]

FULL: Plan = {
    "connect": {"--n": "3000", "--ramp": "500", "--hold": "10", "--warmup-conns": "200"},
    "chat": {
        "--conversations": "200",
        "--members": "2",
        "--rate": "200,1000",
        "--duration": "10",
        "--warmup": "3",
        "--stop-after-fails": "0",
    },
    # 20 joins in flight, not 200: Parley answers `unavailable` to many of 200 concurrent joins of one
    # 500-member room (the join ack lists every member), and the fanout needs all of them.
    "fanout": {"--members": "500", "--messages": "20", "--interval": "200", "--max-inflight": "20"},
    "sweep": {
        "--conversations": "1000",
        "--members": "2",
        "--rate": "500,1000,1500,2000,2500,3000",
        "--duration": "5",
        "--warmup": "2",
        "--stop-after-fails": "2",
    },
    "connect-2": {"--n": "2000", "--ramp": "500", "--hold": "5", "--warmup-conns": "200"},
    "chat-2": {
        "--conversations": "200",
        "--members": "2",
        "--rate": "1000",
        "--duration": "10",
        "--warmup": "3",
        "--stop-after-fails": "0",
    },
    "fanout-2": {"--members": "500", "--messages": "20", "--interval": "200", "--max-inflight": "20"},
}
QUICK: Plan = {
    "connect": {"--n": "200", "--ramp": "200", "--hold": "2", "--warmup-conns": "20"},
    "chat": {
        "--conversations": "20",
        "--members": "2",
        "--rate": "20,50",
        "--duration": "2",
        "--warmup": "1",
        "--drain": "2",
        "--stop-after-fails": "0",
    },
    "fanout": {"--members": "30", "--messages": "5", "--interval": "100", "--drain": "2"},
    "sweep": {
        "--conversations": "50",
        "--members": "2",
        "--rate": "50,100,200",
        "--duration": "2",
        "--warmup": "1",
        "--drain": "2",
        "--stop-after-fails": "2",
    },
    "connect-2": {"--n": "100", "--ramp": "200", "--hold": "2", "--warmup-conns": "20"},
    "chat-2": {
        "--conversations": "20",
        "--members": "2",
        "--rate": "50",
        "--duration": "2",
        "--warmup": "1",
        "--drain": "2",
        "--stop-after-fails": "0",
    },
    "fanout-2": {"--members": "30", "--messages": "5", "--interval": "100", "--drain": "2"},
}
# Each group runs on freshly started servers (and a fresh database): (server processes, keys).
GROUPS = [(1, ["connect"]), (1, ["chat", "fanout"]), (1, ["sweep"]), (2, ["connect-2", "chat-2", "fanout-2"])]


def scenario_of(key: str) -> str:
    return {"sweep": "chat"}.get(key.split("-")[0], key.split("-")[0])


def loadgen_argv(server: topology.Server, key: str, plan: Plan, secret: str, workers: int) -> list[str]:
    flags = [item for pair in plan[key].items() for item in pair]
    return [
        *(sys.executable, "-m", "bench.parley_bench", "--label", f"{server.name}-{key}"),
        *("--url", ",".join(server.urls), "--secret", secret, "--pid", server.pid_spec),
        *("--scenario", scenario_of(key), "--workers", str(workers), *flags),
    ]


def run_loadgen(argv: list[str]) -> dict[str, Any]:
    done = subprocess.run(argv, cwd=REPO, stdout=subprocess.PIPE, timeout=1800, check=False)
    try:
        result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {"error": f"loadgen printed no result (exit status {done.returncode})"}
    return result


def start(name: str, instances: int, secret: str, log_dir: Path) -> topology.Server:
    if name == "parley":
        return topology.start_parley(instances, secret, log_dir)
    return topology.start_peer(instances, secret, SHARED, log_dir)


def run_all(args: argparse.Namespace, plan: Plan, servers: list[str], out: Path) -> list[report.Record]:
    records: list[report.Record] = []
    secret = f"bench-{uuid.uuid4().hex}"
    keys = set(args.only.split(",")) if args.only else set(plan)
    with (out / "results.jsonl").open("a") as sink:
        for run in range(args.runs):
            for instances, group in GROUPS:
                wanted = [k for k in group if k in keys]
                if not wanted:
                    continue
                for name in servers if run % 2 == 0 else servers[::-1]:  # alternate who goes first
                    log(f"run {run + 1}/{args.runs}: {name} x{instances} for {', '.join(wanted)}")
                    server = start(name, instances, secret, out)
                    try:
                        for key in wanted:
                            argv = loadgen_argv(server, key, plan, secret, args.loadgen_workers)
                            result = run_loadgen(argv)
                            if "error" in result:
                                log(f"{name} {key} FAILED: {result['error']}")
                            shown = [{secret: "$SECRET", server.pid_spec: "$PIDS"}.get(a, a) for a in argv]
                            shown[0] = ".venv/bin/python"
                            record = {"server": name, "run": run, "key": key, "argv": shown, "result": result}
                            records.append(record)
                            sink.write(json.dumps(record) + "\n")
                            sink.flush()
                    finally:
                        server.stop()
    return records


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK", "") not in ("", "0"))
    p.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "1")))
    p.add_argument("--with-peer", choices=["auto", "yes", "no"], default=os.environ.get("BENCH_PEER", "auto"))
    p.add_argument("--only", help="comma-separated keys: connect,chat,fanout,sweep,connect-2,chat-2,fanout-2")
    p.add_argument("--loadgen-workers", type=int, default=1, help="processes of each loadgen run")
    p.add_argument("--doc", type=Path, default=REPO / "docs" / "performance.md")
    p.add_argument("--plots", type=Path, default=REPO / "docs" / "perf")
    p.add_argument("--no-doc", action="store_true", help="only run and keep the raw results")
    p.add_argument("--report-only", type=Path, help="redo the doc and plots from a results.jsonl")
    return p.parse_args()


def main() -> None:
    args = parse()
    if args.report_only:  # the records, plan and machine of an earlier session
        records = [json.loads(line) for line in args.report_only.read_text().splitlines() if line.strip()]
        session = json.loads((args.report_only.parent / "session.json").read_text())
        plan, servers, meta, argv = session["plan"], session["servers"], session["meta"], session["argv"]
    else:
        plan = QUICK if args.quick else FULL
        if args.only:
            plan = {k: v for k, v in plan.items() if k in args.only.split(",")}
        has_peer = topology.peer_available(SHARED)
        if args.with_peer == "yes" and not has_peer:
            raise SystemExit(f"--with-peer yes: no {SHARED}/peer with node_modules, or no node")
        servers = ["parley"] + (["peer"] if args.with_peer != "no" and has_peer else [])
        argv = "make bench-quick" if args.quick else "make bench"
        if args.runs != 1 or args.only:
            argv = "bench/run_bench.py " + " ".join(sys.argv[1:])
        meta = docblock.machine(servers)
        out = REPO / "var" / "bench" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        out.mkdir(parents=True, exist_ok=True)
        session = {"plan": plan, "servers": servers, "meta": meta, "argv": argv}
        (out / "session.json").write_text(json.dumps(session, indent=1))
        log(f"servers: {', '.join(servers)}; results in {out}")
        records = run_all(args, plan, servers, out)
    failed = [r for r in records if "error" in r["result"]]
    if not args.no_doc:
        try:
            from bench.parley_bench.plots import plot_all  # needs matplotlib

            plots = plot_all(records, args.plots, servers)
        except ImportError as exc:
            log(f"no plots ({exc}): `make bench` installs bench/requirements.txt")
            plots = []
        block = docblock.render(records, plan, servers, meta, argv, plots, args.doc)
        report.splice(args.doc, block, "## Parley's own benchmark (`make bench`)")
        log(f"wrote {args.doc} and {len(plots)} plots in {args.plots}")
    if failed:
        raise SystemExit(f"{len(failed)} loadgen run(s) failed: {[r['key'] for r in failed]}")


if __name__ == "__main__":
    main()
