"""Scenario ``connect``: N sockets opened at R/s and held; connect latency, failures, drops while
idle, server RSS (sampled along the ramp: ``rssTimeline``) and CPU per connection."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

from .agent import Agent, command
from .api import each_limited
from .log import log
from .pool import Worker, call_all
from .procstat import Monitor, cpu_ms_per, usage
from .sio import ConnectRefused, SioSocket
from .stats import Samples, add_counts, merged, rnd


@command("connect.prepare")
async def prepare(agent: Agent, indices: list[int], run: str) -> None:
    """Mint the tokens up front: the ramp measures the server, not python-jose."""
    agent.state["plan"] = [(i, agent.token(f"c{run}-{i}")) for i in indices]
    agent.state["sockets"] = []
    agent.state["hold"] = {"on": False, "drops": 0, "failures": {}}


@command("connect.warmup")
async def warmup(agent: Agent, indices: list[int], run: str) -> None:
    """Open and close a few connections first (not counted): warm caches and pools on both sides."""
    urls = agent.opt.urls
    opened: list[SioSocket] = []

    async def one(i: int) -> None:
        with contextlib.suppress(ConnectRefused):
            opened.append(await agent.open(urls[i % len(urls)], agent.token(f"w{run}-{i}")))

    await each_limited(indices, 50, one)
    await asyncio.gather(*(s.close() for s in opened))


@command("connect.ramp")
async def ramp(agent: Agent, rate: float, inflight: int, start_at: float) -> dict[str, Any]:
    """Socket i (global index) is due at start_at + i/rate; at most ``inflight`` handshakes at once."""
    plan, urls, hold = agent.state["plan"], agent.opt.urls, agent.state["hold"]
    connect_ms, failures = Samples(), dict[str, int]()
    busy: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(inflight)

    def on_close(reason: str) -> None:
        if hold["on"]:
            hold["drops"] += 1
            add_counts(hold["failures"], {f"disconnect:{reason}": 1})

    async def one(i: int, token: str) -> None:
        t0 = time.perf_counter()
        try:
            sock = await agent.open(urls[i % len(urls)], token)
        except ConnectRefused as exc:
            add_counts(failures, {str(exc): 1})
            return
        finally:
            slots.release()
        connect_ms.push((time.perf_counter() - t0) * 1000)
        sock.on_close = on_close
        agent.state["sockets"].append(sock)

    await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
    agent.lag.start()
    for i, token in plan:
        due = start_at + i / rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        await slots.acquire()
        task = asyncio.create_task(one(i, token))
        busy.add(task)
        task.add_done_callback(busy.discard)
    await asyncio.gather(*busy)
    end = time.perf_counter()
    return {"connectMs": connect_ms, "failures": failures, "lag": agent.lag.take(), "end": end}


@command("connect.count")
async def count(agent: Agent) -> int:
    return len(agent.state.get("sockets", ()))


@command("connect.hold")
async def hold(agent: Agent, on: bool) -> dict[str, Any]:
    agent.state["hold"]["on"] = on
    if on:
        agent.lag.start()
        return {}
    sockets: list[SioSocket] = agent.state["sockets"]
    return {**agent.state["hold"], "alive": sum(s.connected for s in sockets), "lag": agent.lag.take()}


@command("connect.close")
async def close(agent: Agent) -> None:
    await asyncio.gather(*(s.close() for s in agent.state.pop("sockets", [])), return_exceptions=True)


async def run(opt: Any, workers: list[Worker], monitor: Monitor) -> dict[str, Any]:
    n_workers, run_id = len(workers), uuid.uuid4().hex[:6]
    shares = [{"indices": list(range(w, opt.n, n_workers))} for w in range(n_workers)]
    await call_all(workers, "connect.prepare", shares, run=run_id)
    if opt.warmup_conns > 0:
        warm = [{"indices": list(range(w, opt.warmup_conns, n_workers))} for w in range(n_workers)]
        await call_all(workers, "connect.warmup", warm, run=run_id)
        await asyncio.sleep(opt.settle)
    before = monitor.snapshot()
    start_at = time.perf_counter() + 0.05
    ramp_call = asyncio.ensure_future(
        call_all(
            workers,
            "connect.ramp",
            rate=opt.ramp,
            inflight=max(1, opt.max_inflight // n_workers),
            start_at=start_at,
        )
    )
    timeline: list[list[float]] = [[0, rnd((before.rss or 0) / 2**20, 1) or 0]]
    while not ramp_call.done():
        await asyncio.wait([ramp_call], timeout=opt.rss_every)
        if monitor.server_pids:
            connected = sum(await call_all(workers, "connect.count"))
            timeline.append([connected, rnd((monitor.snapshot().rss or 0) / 2**20, 1) or 0])
    ramps = ramp_call.result()
    ramp_end = max(r["end"] for r in ramps)
    connected = sum(await call_all(workers, "connect.count"))
    log(f"connected {connected}/{opt.n} in {ramp_end - start_at:.1f} s; holding {opt.hold} s")
    await call_all(workers, "connect.hold", on=True)
    hold_start = monitor.snapshot()
    await asyncio.sleep(opt.hold)
    hold_end = monitor.snapshot()
    holds = await call_all(workers, "connect.hold", on=False)
    await call_all(workers, "connect.close")
    failures: dict[str, int] = {}
    for part in ramps:
        add_counts(failures, part["failures"])
    for part in holds:
        add_counts(failures, part["failures"])
    ramp_seconds = ramp_end - start_at
    ramp_usage, hold_usage = usage(before, hold_start), usage(hold_start, hold_end)
    result: dict[str, Any] = {
        "connections": {
            "attempted": opt.n,
            "connected": connected,
            "aliveAfterHold": sum(h["alive"] for h in holds),
            "failed": opt.n - connected,
            "disconnectsDuringHold": sum(h["drops"] for h in holds),
            "failures": failures,
        },
        "rampSeconds": rnd(ramp_seconds),
        "connectRatePerSec": rnd(connected / ramp_seconds, 1) if ramp_seconds > 0 else None,
        "connectMs": merged(r["connectMs"] for r in ramps).summary(),
        "ramp": ramp_usage | {"loopLagMs": merged(r["lag"] for r in ramps).summary()},
        "hold": hold_usage | {"loopLagMs": merged(h["lag"] for h in holds).summary()},
        "cpuMsPerConnection": cpu_ms_per(ramp_usage, connected),
        "holdCpuPctPer1000": {
            k.removesuffix("CpuPct"): rnd(v * 1000 / connected, 2)
            for k, v in hold_usage.items()
            if connected and k in ("serverCpuPct", "loadgenCpuPct") and v is not None
        },
    }
    if monitor.server_pids and before.rss is not None:
        after_ramp, after_hold = hold_start.rss or 0, hold_end.rss or 0
        timeline.append([connected, rnd(after_hold / 2**20, 1) or 0])
        result["serverRss"] = {
            "beforeMB": rnd(before.rss / 2**20, 1),
            "afterRampMB": rnd(after_ramp / 2**20, 1),
            "afterHoldMB": rnd(after_hold / 2**20, 1),
            "bytesPerConnection": round((after_hold - before.rss) / connected) if connected else None,
        }
        result["rssTimeline"] = timeline
    return result
