"""``make cluster`` supervises its processes: the back-off policy, a program that keeps failing
at start-up, and the real launcher keeping the cluster serving through ``kill -9``s."""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
from pathlib import Path

import pytest

from parley_launcher.cluster import plan, programs
from parley_launcher.supervisor import Program, RestartPolicy, Supervisor
from tests.faults.invariant import check
from tests.faults.workload import Chat
from tests.launcher.launched import STOPPED, UP, Launcher, launched
from tests.support.balancer import failover_balancer
from tests.support.ports import free_port

ROOT = Path(__file__).parents[2]
BACK_WITHIN_S = 5.0


def test_the_back_off_doubles_to_5_s_and_starts_over_after_30_s_of_running() -> None:
    policy = RestartPolicy()
    delays: list[float] = []
    previous = None
    for _ in range(6):
        previous = policy.delay(previous, ran_s=1)
        delays.append(previous)

    assert delays == [0.5, 1, 2, 4, 5, 5]
    assert policy.delay(5, ran_s=29.9) == 5
    assert policy.delay(5, ran_s=30) == 0.5


def test_the_gateways_are_stopped_first() -> None:
    first = [p.name for p in programs(plan({})) if p.stop_first]

    assert first == ["gateway-1", "gateway-2"]


async def test_a_program_that_keeps_failing_at_start_up_is_reported_not_restarted_forever() -> None:
    out = io.StringIO()
    failing = Program(
        "flaky", "tests.launcher.fails_at_start", free_port(), os.environ | {"PYTHONPATH": str(ROOT)}
    )
    policy = RestartPolicy(first_delay_s=0.01, max_delay_s=0.02, give_up_after=3)

    status = await asyncio.wait_for(Supervisor([failing], policy=policy, out=out).run(), 30)

    said = out.getvalue()
    assert status == 1
    assert said.count("exited with status 3 after") == 2  # two restarts, then no third
    assert "flaky failed at start-up 3 times in a row (the last time it exited with status 3)" in said
    assert "not starting it again. Its last lines:\n    starting up\n    FATAL: this program" in said
    assert "restarts: flaky 2" in said


async def _killed_and_back(launcher: Launcher, name: str, pid: int) -> tuple[float, float]:
    """``kill -9`` ``name``; how long until the launcher started it again, and until it was up."""
    loop = asyncio.get_running_loop()
    start = len(launcher.lines)
    killed_at = loop.time()
    os.kill(pid, signal.SIGKILL)
    await launcher.line(re.compile(rf"\| {name} started \(pid (?!{pid}\b)"), start=start)
    started_s = loop.time() - killed_at
    await launcher.up(name, start=start, wait_s=60)
    return started_s, loop.time() - killed_at


@pytest.mark.timeout(180)
async def test_make_cluster_serves_on_through_a_gateway_and_messages_killed(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with launched(postgres_url=postgres_url, redis_url=redis_url) as launcher:
        names = ("messages", "presence", "gateway-1", "gateway-2")
        pids = {name: await launcher.up(name, wait_s=60) for name in names}
        cluster = launcher.cluster(tmp_path)
        front = free_port()
        url = f"http://127.0.0.1:{front}"
        async with (
            # Every member on gateway-1 (the balancer's first choice) until it is killed.
            failover_balancer(front, [g.port for g in cluster.gateways]),
            Chat.running(cluster, url, size=4) as chat,
        ):
            await chat.acks(12)
            gateway_back = await _killed_and_back(launcher, "gateway-1", pids["gateway-1"])
            await chat.acks(12)  # they reconnected to gateway-2 through the balancer
            messages_back = await _killed_and_back(launcher, "messages", pids["messages"])
            await chat.acks(12)  # sends answered `unavailable` meanwhile were retried
            await chat.settle(retry_failed=True, wait_s=60)
            await chat.live_round()
            await chat.settle(wait_s=60)
            tally = await check(chat, database_url=postgres_url, scenario="make cluster")
        launcher.process.send_signal(signal.SIGINT)  # Ctrl-C
        status = await launcher.ended()

    print(f"\n{tally.line()} reconnects={chat.reconnects}")
    print(f"after kill -9, (started again, up) in s: gateway-1 {gateway_back}, messages {messages_back}")
    assert tally.problems == [], "\n".join(tally.problems)
    assert (tally.duplicates, tally.lost) == (0, 0)
    assert tally.acked == tally.sent
    assert chat.reconnects >= 4, "every member reconnected (to gateway-2) when gateway-1 was killed"
    # Started again after the first back-off (0.5 s); up once its start-up is done, which on a
    # loaded 2-core machine takes seconds more (it is printed above).
    assert gateway_back[0] < BACK_WITHIN_S and messages_back[0] < BACK_WITHIN_S
    said = launcher.output
    assert re.search(r"gateway-1 \(pid \d+\) was killed by SIGKILL after [\d.]+ s; restart 1 in 0.5 s", said)
    assert re.search(r"messages \(pid \d+\) was killed by SIGKILL after [\d.]+ s; restart 1 in 0.5 s", said)
    assert status == 0, said
    assert "restarts: messages 1, gateway-1 1" in said
    gateways = [launcher.index(STOPPED, f"gateway-{n}") for n in (1, 2)]
    others = [launcher.index(STOPPED, name) for name in ("messages", "presence")]
    assert -1 not in gateways + others, said
    assert max(gateways) < min(others), "gateways stop first"
    assert "did not stop" not in said


async def test_a_sigterm_during_start_up_stops_everything_at_once(postgres_url: str, redis_url: str) -> None:
    async with launched(postgres_url=postgres_url, redis_url=redis_url) as launcher:
        await launcher.line(re.compile(r"presence started \(pid \d+"))
        launcher.process.send_signal(signal.SIGTERM)
        status = await launcher.ended(wait_s=20)

    said = launcher.output
    assert status == 0, said
    assert launcher.index(UP, "presence") == -1, "presence was still starting up when it was told to stop"
    for name in ("messages", "presence", "gateway-1", "gateway-2"):
        assert launcher.index(STOPPED, name) != -1, said
    assert "did not stop" not in said
