"""Scenario ``fanout``: one conversation of M members, one sender, K messages every I ms; how long
until the LAST member has each message (``lastReceiptMs``), and every receipt (``deliveryMs``)."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .agent import Agent, User, command, wait_until
from .options import Options
from .pool import Worker, call_all
from .procstat import Monitor, cpu_ms_per, usage
from .rooms import setup_rooms
from .sio import SioSocket
from .stats import Samples, add_counts, merged

SENDER = 0  # global index of the member who sends


@dataclass
class FanoutState:
    messages: int
    receivers: int = 0
    received: list[int] = field(default_factory=list)
    last_at: list[float] = field(default_factory=list)
    delivery: Samples = field(default_factory=Samples)
    duplicates: int = 0

    def __post_init__(self) -> None:
        self.received = [0] * self.messages
        self.last_at = [0.0] * self.messages


def _state(agent: Agent) -> FanoutState:
    state: FanoutState = agent.state.setdefault("fanout", FanoutState(agent.opt.messages))
    return state


@command("fanout.attach")
async def attach(agent: Agent, user: User, sock: SioSocket) -> None:
    if user.idx == SENDER:
        return
    state, seen = _state(agent), set[int]()
    state.receivers += 1

    def on_new(data: Any) -> None:
        now = time.perf_counter() * 1000
        body: str = data["message"]["body"]
        first = body.find("|")
        k = int(body[:first])
        if not 0 <= k < state.messages:
            return
        if k in seen:
            state.duplicates += 1
            return
        seen.add(k)
        state.received[k] += 1
        state.last_at[k] = now
        state.delivery.push(now - float(body[first + 1 : body.find("|", first + 1)]))

    sock.handlers["message:new"] = on_new


@command("fanout.run")
async def run_worker(agent: Agent, start_at: float, tag: str) -> dict[str, Any]:
    opt, state = agent.opt, _state(agent)
    sender = next((u for u in agent.users if u.idx == SENDER), None)
    ack, errors, sent_at = Samples(), dict[str, int](), [0.0] * opt.messages
    await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
    if sender is not None and sender.sock is not None:

        def on_ack(t: float, res: Any) -> None:
            if isinstance(res, dict) and res.get("ok"):
                ack.push((time.perf_counter() - t) * 1000)
            else:
                code = (res.get("error") or {}).get("code") if isinstance(res, dict) else None
                add_counts(errors, {str(code or "bad_ack"): 1})

        for k in range(opt.messages):
            t = time.perf_counter()
            sent_at[k] = t * 1000
            payload = {
                "conversationId": sender.conv,
                "clientMessageId": str(uuid.uuid4()),
                "body": f"{k}|{t * 1000:.3f}|fanout {tag}",
            }
            await sender.sock.emit("message:send", payload, functools.partial(on_ack, t))
            await asyncio.sleep(max(0.0, start_at + (k + 1) * opt.interval / 1000 - time.perf_counter()))
    deadline = start_at + opt.messages * opt.interval / 1000 + opt.drain
    await wait_until(lambda: min(state.received, default=0) >= state.receivers, deadline)
    return {
        "sender": sender is not None,
        "sentAt": sent_at,
        "ack": ack,
        "errors": errors,
        "received": state.received,
        "lastAt": state.last_at,
        "delivery": state.delivery,
        "duplicates": state.duplicates,
    }


async def run(opt: Options, workers: list[Worker], monitor: Monitor) -> dict[str, Any]:
    members, n_workers, tag = opt.room_size, len(workers), uuid.uuid4().hex[:6]
    rooms = await setup_rooms(
        opt, workers, 1, members, f"f{tag}", lambda c, m: m % n_workers, "fanout.attach"
    )
    before = monitor.snapshot()
    parts = await call_all(workers, "fanout.run", start_at=time.perf_counter() + 0.02, tag=tag)
    window = usage(before, monitor.snapshot())
    sender = next(p for p in parts if p["sender"])
    errors: dict[str, int] = {}
    for part in parts:
        add_counts(errors, part["errors"])
    last, complete = Samples(), 0
    for k in range(opt.messages):
        if sum(p["received"][k] for p in parts) == members - 1:
            complete += 1
            last.push(max(p["lastAt"][k] for p in parts) - sender["sentAt"][k])
    delivery = merged(p["delivery"] for p in parts)
    return {
        "members": members,
        "setup": rooms.setup,
        "messages": opt.messages,
        "intervalMs": opt.interval,
        "errors": errors,
        "complete": complete,
        "deliveries": len(delivery),
        "expectedDeliveries": opt.messages * (members - 1),
        "duplicates": sum(p["duplicates"] for p in parts),
        "ackMs": sender["ack"].summary(),
        "lastReceiptMs": last.summary(),
        "deliveryMs": delivery.summary(),
        "usage": window,
        "cpuMsPerDelivery": cpu_ms_per(window, len(delivery)),
    }
