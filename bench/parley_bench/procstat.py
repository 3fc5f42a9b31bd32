"""CPU and memory from /proc: the server's pids, named processes (postgres, redis-server), the
load generator itself and the whole host. CPU is in % of ONE core (200 = both cores of a 2-core box)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from .stats import rnd

CLK_TCK = os.sysconf("SC_CLK_TCK")
CPUS = os.cpu_count() or 1


def proc_stat(pid: int) -> tuple[int, int, str] | None:
    """(ppid, utime+stime ticks, comm) or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    close = text.rfind(")")
    fields = text[close + 2 :].split(" ")
    return int(fields[1]), int(fields[11]) + int(fields[12]), text[text.find("(") + 1 : close]


def all_procs() -> dict[int, tuple[int, int, str]]:
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (stat := proc_stat(int(name))) is not None:
            out[int(name)] = stat
    return out


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


def host_ticks() -> tuple[int, int]:
    """(total, idle+iowait) jiffies of the whole host."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values), values[3] + values[4]


def parse_pids(spec: str) -> list[tuple[str, int]]:
    """``1234,gateway:1235`` -> [("server", 1234), ("gateway", 1235)]."""
    out = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        label, _, pid = item.rpartition(":")
        out.append((label or "server", int(pid)))
    return out


@dataclass
class Snapshot:
    t: float
    server: dict[str, int]  # label -> ticks
    watch: dict[str, dict[int, int]]  # process name -> pid -> ticks
    loadgen: dict[int, int]  # pid -> ticks
    host: tuple[int, int]
    rss: int | None


@dataclass
class Monitor:
    """What to watch; ``snapshot()`` reads it all, ``usage(a, b)`` turns two snapshots into figures."""

    server_pids: list[tuple[str, int]]
    pid_tree: bool = False
    watch: list[str] = field(default_factory=lambda: ["postgres", "redis-server"])
    loadgen_pids: list[int] = field(default_factory=lambda: [os.getpid()])

    def pids(self, procs: dict[int, tuple[int, int, str]]) -> list[tuple[str, int]]:
        labelled = list(self.server_pids)
        if self.pid_tree:  # add every descendant, under its ancestor's label
            known = {pid: label for label, pid in labelled}
            grew = True
            while grew:
                grew = False
                for pid, (ppid, _, _) in procs.items():
                    if ppid in known and pid not in known:
                        known[pid] = known[ppid]
                        grew = True
            labelled = [(label, pid) for pid, label in known.items()]
        return labelled

    def snapshot(self) -> Snapshot:
        procs = all_procs()
        server: dict[str, int] = {}
        pids = self.pids(procs)
        for label, pid in pids:
            server[label] = server.get(label, 0) + (procs[pid][1] if pid in procs else 0)
        watch: dict[str, dict[int, int]] = {name: {} for name in self.watch}
        for pid, (_, ticks, comm) in procs.items():
            if comm in watch:
                watch[comm][pid] = ticks
        loadgen = {pid: procs[pid][1] for pid in self.loadgen_pids if pid in procs}
        rss = rss_bytes([pid for _, pid in pids]) if pids else None
        return Snapshot(time.perf_counter(), server, watch, loadgen, host_ticks(), rss)


def usage(a: Snapshot, b: Snapshot) -> dict[str, Any]:
    """CPU over [a, b] in % of one core, with loadgen.mjs's field names."""
    seconds = max(b.t - a.t, 1e-9)

    def pct(ticks: float) -> float | None:
        return rnd(ticks / CLK_TCK / seconds * 100, 1)

    loadgen_ticks = {pid: b.loadgen.get(pid, t) - t for pid, t in a.loadgen.items()}
    total_ticks, idle_ticks = b.host[0] - a.host[0], b.host[1] - a.host[1]
    out: dict[str, Any] = {
        "seconds": rnd(seconds),
        "loadgenCpuPct": pct(sum(loadgen_ticks.values())),
        "loadgenCpuMs": round(sum(loadgen_ticks.values()) / CLK_TCK * 1000),
        "loadgenMaxProcessCpuPct": pct(max(loadgen_ticks.values(), default=0)),
        "hostCpuPct": rnd((1 - idle_ticks / max(total_ticks, 1)) * CPUS * 100, 1),
    }
    if a.server:
        out["serverCpuPct"] = pct(sum(b.server.values()) - sum(a.server.values()))
        out["serverRssMB"] = rnd((b.rss or 0) / 2**20, 1)  # at the end of the window
        if len(a.server) > 1:
            out["serverCpuPctBy"] = {label: pct(b.server[label] - a.server[label]) for label in a.server}
    for name, before in a.watch.items():
        ticks = sum(t - before.get(pid, 0) for pid, t in b.watch[name].items())
        out[f"{name}CpuPct"] = pct(ticks)
    named = sum(v for k, v in out.items() if k.endswith("CpuPct") and k != "hostCpuPct" and v is not None)
    named -= out["loadgenMaxProcessCpuPct"] or 0  # part of loadgenCpuPct, not a process of its own
    # What none of the above used: the kernel's own work and any other load on the box (noise).
    out["otherCpuPct"] = rnd(out["hostCpuPct"] - named, 1)
    return out


def cpu_ms_per(window: dict[str, Any], count: int) -> dict[str, float | None]:
    """CPU milliseconds per unit of work (message, connection) over a usage window."""
    if not count:
        return {}
    seconds = window["seconds"]

    def per(value: float | None) -> float | None:
        return None if value is None else rnd(value * seconds * 10 / count, 3)

    skip = ("hostCpuPct", "otherCpuPct", "loadgenMaxProcessCpuPct")
    out = {k[: -len("CpuPct")]: per(v) for k, v in window.items() if k.endswith("CpuPct") and k not in skip}
    for label, value in (window.get("serverCpuPctBy") or {}).items():
        out[f"server:{label}"] = per(value)
    return out
