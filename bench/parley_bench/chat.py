"""Scenario ``chat``: C conversations x M members, every member one socket; open-loop sends at a
rate (or a sweep of rates on the same sockets). Ack and delivery latency, and every count that
shows a lost, repeated or reordered message."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .agent import Agent, User, command, wait_until
from .log import log
from .options import Options
from .pool import Worker, call_all
from .procstat import Monitor, cpu_ms_per, usage
from .rooms import setup_rooms
from .sio import SioSocket
from .stats import Samples, add_counts, merged, rnd

TAGS = [chr(65 + i) for i in range(60)]  # phase letter in each body, right after the send time


@dataclass
class Phase:
    sent: int = 0
    acked: int = 0
    pending: int = 0
    expected: int = 0
    delivered: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    duplicate_flag: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    ack: Samples = field(default_factory=Samples)
    delivery: Samples = field(default_factory=Samples)
    lag: Samples = field(default_factory=Samples)
    timeline: dict[int, float] | None = None


@dataclass
class ChatState:
    members: int
    phases: list[Phase] = field(default_factory=list)
    seqs: dict[str, list[int]] = field(default_factory=dict)  # conversation -> acked seqs
    serial: int = 0


def _state(agent: Agent) -> ChatState:
    state: ChatState = agent.state.setdefault("chat", ChatState(agent.opt.room_size))
    return state


@command("chat.attach")
async def attach(agent: Agent, user: User, sock: SioSocket) -> None:
    """Before the join: count every message:new this member receives, by phase."""
    phases, seen, last = _state(agent).phases, set[int](), [0]

    def on_new(data: Any) -> None:
        now = time.perf_counter() * 1000
        message = data["message"]
        body: str = message["body"]
        bar = body.find("|")
        index = ord(body[bar + 1]) - 65
        if not 0 <= index < len(phases):
            return
        phase, seq = phases[index], message["seq"]
        if seq in seen:
            phase.duplicates += 1
            return
        seen.add(seq)
        if seq < last[0]:
            phase.out_of_order += 1
        else:
            last[0] = seq
        phase.delivered += 1
        phase.delivery.push(now - float(body[:bar]))

    sock.handlers["message:new"] = on_new


def _on_ack(state: ChatState, phase: Phase, t: float, user: User, res: Any) -> None:
    dt = (time.perf_counter() - t) * 1000
    phase.pending -= 1
    if isinstance(res, dict) and res.get("ok"):
        phase.acked += 1
        phase.ack.push(dt)
        phase.expected += state.members - 1
        if phase.timeline is not None:
            slot = int((t * 1000 - phase.timeline[-1]) // 250)
            phase.timeline[slot] = max(phase.timeline.get(slot, 0.0), dt)
        if res.get("duplicate"):
            phase.duplicate_flag += 1
        state.seqs.setdefault(user.conv, []).append(res["message"]["seq"])
    else:
        code = (res.get("error") or {}).get("code") if isinstance(res, dict) else None
        add_counts(phase.errors, {str(code or "bad_ack"): 1})


@command("chat.phase")
async def phase(
    agent: Agent, index: int, rate: float, seconds: float, start_at: float, offset: int, stride: int
) -> dict[str, Any]:
    """Global message k is due at start_at + k/rate; this worker sends k = offset, offset+stride, …"""
    state, users = _state(agent), agent.users
    ph = Phase(timeline={-1: start_at * 1000} if agent.opt.timeline else None)
    state.phases.append(ph)
    assert len(state.phases) == index + 1, "phases out of step"
    pad = "x" * max(0, agent.opt.body_size - 30)
    due_ks = range(offset, round(rate * seconds), stride)
    rr, j = index * 7919, 0
    await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
    agent.lag.start()
    while j < len(due_ks):
        now = time.perf_counter()
        due = math.floor((now - start_at) * rate) + 1
        while j < len(due_ks) and due_ks[j] < due:
            ph.lag.push((now - start_at - due_ks[j] / rate) * 1000)
            user = users[rr % len(users)]
            rr, j, state.serial = rr + 1, j + 1, state.serial + 1
            assert user.sock is not None
            t = time.perf_counter()
            ph.sent += 1
            ph.pending += 1
            body = f"{t * 1000:.3f}|{TAGS[index]}|{user.idx}|{state.serial}|{pad}"
            payload = {"conversationId": user.conv, "clientMessageId": str(uuid.uuid4()), "body": body}
            await user.sock.emit("message:send", payload, partial(_on_ack, state, ph, t, user))
        if j < len(due_ks):
            await asyncio.sleep(0.001)
    send_end = time.perf_counter()
    loop_lag = agent.lag.take()
    deadline = send_end + agent.opt.drain
    await wait_until(lambda: ph.pending == 0 and ph.delivered >= ph.expected, deadline)
    timeline = ph.timeline or {}
    return {
        "counts": {k: getattr(ph, k) for k in ("sent", "acked", "pending", "expected", "delivered")}
        | {k: getattr(ph, k) for k in ("duplicates", "out_of_order", "duplicate_flag")},
        "errors": ph.errors,
        "ack": ph.ack,
        "delivery": ph.delivery,
        "lag": ph.lag,
        "loopLag": loop_lag,
        "sendEnd": send_end,
        "timeline": {k: v for k, v in timeline.items() if k >= 0},
    }


@command("chat.seqcheck")
async def seqcheck(agent: Agent) -> dict[str, int]:
    """Per conversation, the acked seqs must be exactly 1..n."""
    seqs = _state(agent).seqs
    gaps = dups = 0
    for values in seqs.values():
        values.sort()
        dups += sum(1 for a, b in itertools.pairwise(values) if a == b)
        if values[0] != 1 or values[-1] != len(set(values)):
            gaps += 1
    return {"conversations": len(seqs), "withGaps": gaps, "duplicateSeqs": dups}


def _step(
    opt: Options,
    rate: float,
    seconds: float,
    parts: list[dict[str, Any]],
    window: dict[str, Any],
    start_at: float,
) -> dict[str, Any]:
    counts: dict[str, int] = {}
    errors: dict[str, int] = {}
    for part in parts:
        add_counts(counts, part["counts"])
        add_counts(errors, part["errors"])
    send_seconds = max(p["sendEnd"] for p in parts) - start_at
    ack = merged(p["ack"] for p in parts).summary()
    missing = counts["expected"] - counts["delivered"]
    step: dict[str, Any] = {
        "rate": rate,
        "seconds": seconds,
        "sent": counts["sent"],
        "acked": counts["acked"],
        "errors": errors,
        "noAck": counts["pending"],
        "ackThroughput": rnd(counts["acked"] / send_seconds, 1),
        "ackMs": ack,
        "deliveryMs": merged(p["delivery"] for p in parts).summary(),
        "delivered": counts["delivered"],
        "expectedDeliveries": counts["expected"],
        "missingDeliveries": missing,
        "duplicates": counts["duplicates"],
        "outOfOrder": counts["out_of_order"],
        "duplicateFlagInAck": counts["duplicate_flag"],
        "deliveriesPerSec": rnd(counts["delivered"] / send_seconds, 1),
        "scheduleLagMs": merged(p["lag"] for p in parts).summary(),
        "loopLagMs": merged(p["loopLag"] for p in parts).summary(),
        "usage": window,
        "cpuMsPerMessage": cpu_ms_per(window, counts["acked"]),
        "withinSlo": ack["p99"] is not None
        and ack["p99"] < opt.slo_p99
        and not errors
        and counts["pending"] == 0
        and missing == 0
        and counts["sent"] == counts["acked"],
    }
    if opt.timeline:
        slots: dict[int, float] = {}
        for part in parts:
            for k, v in part["timeline"].items():
                slots[k] = max(slots.get(k, 0.0), v)
        step["ackMaxPer250ms"] = [round(slots.get(k, 0)) for k in range(max(slots, default=-1) + 1)]
    return step


async def run(opt: Options, workers: list[Worker], monitor: Monitor) -> dict[str, Any]:
    members = opt.room_size
    n_workers = len(workers)
    rooms = await setup_rooms(
        opt,
        workers,
        opt.conversations,
        members,
        f"u{uuid.uuid4().hex[:6]}",
        lambda c, m: c % n_workers,
        "chat.attach",
    )
    active = [w for w, r in zip(workers, rooms.rows, strict=True) if r]
    n_users = sum(len(r) for r in rooms.rows)
    phases = 0

    async def run_phase(rate: float, seconds: float) -> dict[str, Any]:
        nonlocal phases
        if rate / n_users > opt.max_user_rate:
            raise ValueError(
                f"rate {rate}/s over {n_users} users is {rate / n_users:.2f}/s per user > "
                f"--max-user-rate {opt.max_user_rate}; add --conversations"
            )
        index, phases = phases, phases + 1
        before = monitor.snapshot()
        start_at = time.perf_counter() + 0.02
        call = asyncio.ensure_future(
            call_all(
                active,
                "chat.phase",
                [{"offset": i} for i in range(len(active))],
                index=index,
                rate=rate,
                seconds=seconds,
                start_at=start_at,
                stride=len(active),
            )
        )
        await asyncio.wait([call], timeout=max(0.0, start_at + seconds - time.perf_counter()))
        window = usage(before, monitor.snapshot())
        return _step(opt, rate, seconds, await call, window, start_at)

    if opt.warmup > 0:
        await run_phase(opt.rate[0], opt.warmup)
        log("warmup done")
    steps: list[dict[str, Any]] = []
    fails = 0
    for rate in opt.rate:
        step = await run_phase(rate, opt.duration)
        steps.append(step)
        cpu = step["usage"]
        log(
            f"rate {rate}/s: acked {step['acked']}/{step['sent']} ack p50 {step['ackMs']['p50']} "
            f"p99 {step['ackMs']['p99']} ms, delivery p99 {step['deliveryMs']['p99']} ms, errors "
            f"{step['errors']} missing {step['missingDeliveries']} server {cpu.get('serverCpuPct', '?')}% "
            f"loadgen {cpu['loadgenCpuPct']}%"
        )
        fails = 0 if step["withinSlo"] else fails + 1
        if opt.stop_after_fails > 0 and fails >= opt.stop_after_fails:
            log(f"SLO broken {fails} steps in a row: stopping the sweep")
            break
        await asyncio.sleep(0.5)
    seq_parts = await call_all(active, "chat.seqcheck")
    seq_check: dict[str, int] = {}
    for part in seq_parts:
        add_counts(seq_check, part)
    passing = [s["rate"] for s in steps if s["withinSlo"]]
    return {
        "users": n_users,
        "setup": rooms.setup,
        "steps": steps,
        "seqCheck": seq_check,
        "maxRateWithinSlo": max(passing) if passing else None,
        "sloP99AckMs": opt.slo_p99,
    }
