"""``make bench`` (its last part): the bus cost of each gateway as gateways are added.

For G = 1, 2, 4 and 8 gateway processes (``make cluster``: messages, presence and G gateways on
the local PostgreSQL and Redis), the same total chat rate over the same rooms, each room's two
members on one gateway, rooms spread evenly (so each gateway hosts 1/G of them). Measured per
gateway, from its own /metrics: bus messages received and the CPU spent decoding them and
handing them to its sockets; and its whole process CPU. Once with ``BUS_ROUTING=single`` (the
old design: every gateway hears every event on one channel) and once with ``rooms`` (each
gateway subscribed to its own rooms' channels). Writes docs/perf/bus-scaleout.png and the
table between the ``bus-scaleout`` markers of docs/performance.md; raw results go to
var/bench/bus-<stamp>.json.

    .venv/bin/python bench/bus_scaleout.py --rounds 3   # about 12 minutes (make bench)
    .venv/bin/python bench/bus_scaleout.py --quick      # tiny (or BENCH_QUICK=1), one round

One run is at the mercy of the box (2 shared cores): each (G, routing) is measured once per
round, the routings' order alternating from round to round so neither always runs first, and the
table and the plot give the median of the rounds, with the runs' spread (min-max) beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.parley_bench import topology  # noqa: E402 - after the path set-up
from bench.parley_bench.api import create_conversation  # noqa: E402
from bench.parley_bench.log import log  # noqa: E402
from bench.parley_bench.procstat import proc_stat  # noqa: E402
from bench.parley_bench.sio import ConnectRefused, SioSocket  # noqa: E402
from bench.parley_bench.tokens import mint  # noqa: E402

GATEWAYS = (1, 2, 4, 8)
ROUTINGS = ("single", "rooms")
MESSAGES_OFFSET = 100  # parley_launcher.cluster: messages on the base port + 100
METRICS_OFFSET = 1000  # and every process's /metrics on its port + 1000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
DOC = REPO / "docs" / "performance.md"
BEGIN, END = "<!-- bus-scaleout:begin -->", "<!-- bus-scaleout:end -->"


async def _metrics(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    async with session.get(url) as response:
        text = await response.text()
    wanted = (
        "parley_gateway_bus_messages_total",
        "parley_gateway_bus_events_total",
        "parley_gateway_bus_cpu_seconds_total",
    )
    values = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            values[name] = float(value)
    return values


def _cpu_s(pid: int) -> float:
    stat = proc_stat(pid)
    return (stat[0] + stat[1]) / CLOCK_TICKS if stat else 0.0


async def _open(session: aiohttp.ClientSession, url: str, token: str) -> SioSocket:
    """A connected socket; a refused or slow connect (a busy box) is tried twice more."""
    for attempt in range(3):
        try:
            return await SioSocket.open(session, url, {"token": token}, 15)
        except ConnectRefused as exc:
            log(f"connect to {url} refused ({exc}), attempt {attempt + 1}")
    raise RuntimeError(f"could not connect to {url}")


async def _measure(
    server: topology.Server, gateways: int, rooms: int, rate: float, seconds: float
) -> dict[str, Any]:
    secret = os.environ["BUS_BENCH_SECRET"]
    base = server.urls[0]
    port = int(base.rsplit(":", 1)[1])
    messages_url = f"http://127.0.0.1:{port + MESSAGES_OFFSET}"
    gateway_pids = [pid for label, pid in server.pids if label == "gateway"]
    metrics_urls = [f"http://127.0.0.1:{port + i + METRICS_OFFSET}/metrics" for i in range(gateways)]
    run = uuid.uuid4().hex[:6]
    delivered = 0
    # No cap on connections: aiohttp's default of 100 would stall the 101st socket.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets: list[tuple[SioSocket, SioSocket, str]] = []
        for r in range(rooms):
            a, b = f"a{r}-{run}", f"b{r}-{run}"
            conversation = await create_conversation(
                session, messages_url, mint(a, secret, 3600), [b], f"room {r}"
            )
            url = server.urls[r % gateways]  # each gateway hosts 1/G of the rooms
            pair = []
            for user in (a, b):
                sock = await _open(session, url, mint(user, secret, 3600))
                joined = await sock.call("conversation:join", {"conversationId": conversation}, 10)
                assert joined.get("ok"), joined
                pair.append(sock)
            sockets.append((pair[0], pair[1], conversation))

        def count(_: Any) -> None:
            nonlocal delivered
            delivered += 1

        for _, receiver, _ in sockets:
            receiver.handlers["message:new"] = count
        before = [await _metrics(session, u) for u in metrics_urls]
        cpu_before = [_cpu_s(pid) for pid in gateway_pids]
        started = time.monotonic()
        sent = 0
        interval = 1 / rate
        while (elapsed := time.monotonic() - started) < seconds:
            sender, _, conversation = sockets[sent % rooms]
            payload = {
                "conversationId": conversation,
                "clientMessageId": str(uuid.uuid4()),
                "body": f"m{sent}",
            }
            await sender.emit("message:send", payload, lambda _: None)
            sent += 1
            await asyncio.sleep(max(0.0, (sent * interval) - elapsed))
        await asyncio.sleep(1.0)  # the last events reach their receivers
        wall = time.monotonic() - started
        after = [await _metrics(session, u) for u in metrics_urls]
        cpu_after = [_cpu_s(pid) for pid in gateway_pids]
        for first, second, _ in sockets:
            await first.close()
            await second.close()

    def per_gateway(name: str) -> float:
        return sum(a.get(name, 0) - b.get(name, 0) for a, b in zip(after, before, strict=True)) / gateways

    return {
        "gateways": gateways,
        "sent": sent,
        "delivered": delivered,
        "wall_s": wall,
        "bus_messages_per_gateway": per_gateway("parley_gateway_bus_messages_total"),
        "bus_events_per_gateway": per_gateway("parley_gateway_bus_events_total"),
        "bus_cpu_ms_per_gateway": 1000 * per_gateway("parley_gateway_bus_cpu_seconds_total"),
        "process_cpu_ms_per_gateway": 1000
        * sum(a - b for a, b in zip(cpu_after, cpu_before, strict=True))
        / max(1, len(gateway_pids)),
    }


METRICS = (
    "bus_messages_per_gateway",
    "bus_events_per_gateway",
    "bus_cpu_ms_per_gateway",
    "process_cpu_ms_per_gateway",
)


def _medians(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (G, routing): each metric's median over the rounds, and its (min, max)."""
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["gateways"], r["routing"]), []).append(r)
    rows = []
    for (gateways, routing), runs in sorted(groups.items()):
        row: dict[str, Any] = {"gateways": gateways, "routing": routing, "runs": len(runs)}
        for name in METRICS:
            values = [r[name] for r in runs]
            row[name] = statistics.median(values)
            row[name + "_spread"] = (min(values), max(values))
        row["delivered"] = sum(r["delivered"] for r in runs)
        row["sent"] = sum(r["sent"] for r in runs)
        rows.append(row)
    return rows


def _cell(row: dict[str, Any], name: str) -> str:
    low, high = row[name + "_spread"]
    if row["runs"] == 1:
        return f"{row[name]:.0f}"
    return f"{row[name]:.0f} ({low:.0f}-{high:.0f})"


def _table(rows: list[dict[str, Any]], rate: float, rooms: int, seconds: float, rounds: int) -> str:
    lines = [
        f"{rooms} rooms of 2 members, {rate:.0f} messages/s in all for {seconds:.0f} s, each room on "
        "one gateway, rooms spread evenly. Per gateway, over the run: bus messages received, the "
        "events in them (a message may batch several), the CPU spent on them (decode and hand-off "
        "to sockets, `parley_gateway_bus_cpu_seconds_total`) and the whole gateway process's CPU. "
        f"Median of {rounds} round(s) (the routings' order alternating), the runs' min-max in "
        "brackets; delivered / sent summed over the rounds.",
        "",
        "| gateways | routing | bus messages / gateway | events / gateway | bus CPU ms / gateway "
        "| process CPU ms / gateway | delivered / sent |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = " | ".join(_cell(r, name) for name in METRICS)
        lines.append(f"| {r['gateways']} | {r['routing']} | {cells} | {r['delivered']}/{r['sent']} |")
    return "\n".join(lines)


def _plot(rows: list[dict[str, Any]], path: Path, rounds: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for routing, style in (("single", "o--"), ("rooms", "s-")):
        mine = [r for r in rows if r["routing"] == routing]
        label = "one channel (before)" if routing == "single" else "a channel per room (now)"
        g = [r["gateways"] for r in mine]
        for ax, name in zip(axes, ("bus_events_per_gateway", "bus_cpu_ms_per_gateway"), strict=True):
            medians = [r[name] for r in mine]
            # The error bars are the rounds' min-max, the points their median.
            below = [m - r[name + "_spread"][0] for m, r in zip(medians, mine, strict=True)]
            above = [r[name + "_spread"][1] - m for m, r in zip(medians, mine, strict=True)]
            ax.errorbar(g, medians, yerr=[below, above], fmt=style, capsize=3, label=label)
    axes[0].set_title(f"bus events received, per gateway (median of {rounds})")
    axes[1].set_title(f"CPU on bus traffic (ms), per gateway (median of {rounds})")
    for ax in axes:
        ax.set_xlabel("gateway processes (same total chat rate)")
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(GATEWAYS), [str(g) for g in GATEWAYS])
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _write_doc(table: str, command: str) -> None:
    picture = "![bus cost per gateway](perf/bus-scaleout.png)"
    block = f"{BEGIN}\n<!-- written by {command}; do not edit by hand -->\n\n{table}\n\n{picture}\n{END}"
    text = DOC.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)


def _own_ports() -> None:
    """Other benchmarks on this box start their clusters from port 18000 too; a random base
    (below the ephemeral range) makes two runs that pick the same free ports unlikely."""
    pick = topology.free_base_port
    start = random.randrange(13_000, 17_000, 100)  # the tests draw theirs from 20000-32000
    topology.free_base_port = lambda offsets, start=start: pick(offsets, start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    parser.add_argument("--gateways", default=",".join(map(str, GATEWAYS)), help="e.g. 1,2,4,8")
    parser.add_argument("--rooms", type=int, help="rooms of 2 (default 64; quick 16)")
    parser.add_argument("--rounds", type=int, help="rounds, medians reported (default 3; quick 1)")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    rooms, rate, seconds = (16, 40.0, 3.0) if args.quick else (64, 200.0, 10.0)
    rooms = args.rooms or rooms
    counts = [int(g) for g in args.gateways.split(",")]
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    log_dir = REPO / "var" / "bench" / f"bus-{stamp}"
    log_dir.mkdir(parents=True, exist_ok=True)
    secret = f"bus-bench-{uuid.uuid4().hex}"
    os.environ["BUS_BENCH_SECRET"] = secret
    _own_ports()
    results = []
    for round_ in range(rounds):
        # Alternate which routing runs first, so a drift of the box's load does not favour one.
        order = ROUTINGS if round_ % 2 == 0 else ROUTINGS[::-1]
        for gateways in counts:
            for routing in order:
                os.environ["BUS_ROUTING"] = routing  # read by every process the launcher starts
                log(f"bus scale-out round {round_ + 1}/{rounds}: {gateways} gateway(s), {routing}")
                server = topology.start_parley(gateways, secret, log_dir, database="parley_bus_bench")
                try:
                    result = asyncio.run(_measure(server, gateways, rooms, rate, seconds))
                finally:
                    server.stop()
                result["routing"] = routing
                result["round"] = round_ + 1
                result["loadavg"] = os.getloadavg()
                log(json.dumps(result))
                results.append(result)
    (log_dir / "results.json").write_text(json.dumps(results, indent=1))
    rows = _medians(results)
    (log_dir / "medians.json").write_text(json.dumps(rows, indent=1))
    _plot(rows, REPO / "docs" / "perf" / "bus-scaleout.png", rounds)
    flags = (" --quick" if args.quick else "") + f" --rounds {rounds}"
    command = "`make bench` (bench/bus_scaleout.py" + flags + ")"
    _write_doc(_table(rows, rate, rooms, seconds, rounds), command)
    log(f"bus scale-out: wrote docs/perf/bus-scaleout.png and docs/performance.md; raw: {log_dir}")


if __name__ == "__main__":
    main()
