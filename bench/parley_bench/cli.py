"""Entry point: ``python -m bench.parley_bench --scenario connect|chat|fanout …``; prints ONE JSON
line on stdout (``{"error": …}`` and exit status 1 if the run failed), progress on stderr."""

from __future__ import annotations

import asyncio
import os
import platform
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from . import chat, connect, fanout
from .log import log
from .options import Options, parse
from .pool import Worker, raise_open_files_limit, start, use_uvloop
from .procstat import CLK_TCK, CPUS, Monitor, parse_pids, proc_stat, rss_bytes

Scenario = Callable[[Options, list[Worker], Monitor], Awaitable[dict[str, Any]]]
SCENARIOS: dict[str, Scenario] = {"connect": connect.run, "chat": chat.run, "fanout": fanout.run}


async def run(opt: Options) -> dict[str, Any]:
    """One scenario against the server(s) of ``opt.urls``; the result object (or ``{"error": …}``)."""
    head: dict[str, Any] = {
        "label": opt.label,
        "scenario": opt.scenario,
        "startedAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "params": opt.params(),
        "host": {"cpus": CPUS, "python": platform.python_version(), "loadgen": "parley_bench"},
    }
    workers = await start(opt)
    pids = sorted({os.getpid(), *(w.pid for w in workers)})
    monitor = Monitor(parse_pids(opt.pid), opt.pid_tree, list(opt.watch), pids)
    try:
        result = await SCENARIOS[opt.scenario](opt, workers, monitor)
    except Exception as exc:
        log("FAILED:", traceback.format_exc())
        return head | {"error": str(exc) or type(exc).__name__}
    finally:
        ticks = sum(stat[1] for pid in pids if (stat := proc_stat(pid)) is not None)
        rss = rss_bytes(pids)
        await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)
    return head | {"cpuTotalMs": round(ticks / CLK_TCK * 1000), **result, "loadgenRssMB": round(rss / 2**20)}


def main(argv: list[str] | None = None) -> None:
    opt = parse(argv)
    raise_open_files_limit()
    use_uvloop()
    started = time.perf_counter()
    result = asyncio.run(run(opt))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()
    log(f"done in {time.perf_counter() - started:.1f} s")
    sys.exit(1 if "error" in result else 0)
