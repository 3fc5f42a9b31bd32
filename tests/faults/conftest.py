"""The fault suite's cluster: messages, presence and two gateways as real processes, on a
PostgreSQL and a Redis of this suite alone (so that they can be crashed and restarted
without touching the shared servers other tests use).

One cluster serves every scenario: starting four Python processes and a database is
most of a scenario's cost. Each scenario therefore begins by healing the cluster (whatever a
previous scenario left down is started again) and checking that every process is ready,
so no fault leaks from one scenario into the next. Clients reach the gateways through a
round-robin balancer that fails over, as behind a real load balancer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from parley_messages.migrate import upgrade
from tests.cluster.conftest import Cluster, cluster_environment, running_cluster
from tests.conftest import unreachable
from tests.faults.invariant import Tally, check
from tests.faults.workload import SCALE, Chat
from tests.support.balancer import failover_balancer
from tests.support.ports import free_port
from tests.support.private_servers import PrivatePostgres, PrivateRedis, Unavailable
from tests.support.processes import ServiceProcess

SETTLE_S = 60.0 * SCALE  # the backlog a fault leaves grows with the length of the phases


@dataclass
class Backends:
    postgres: PrivatePostgres
    redis: PrivateRedis


@pytest.fixture(scope="package")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    try:
        postgres = PrivatePostgres()
        redis_server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    except Unavailable as exc:
        unreachable("a private PostgreSQL and Redis", exc)
        raise  # unreachable() skips or fails; this line only satisfies the type checker
    try:
        postgres.start()
        upgrade(postgres.url)
        redis_server.start()
        yield Backends(postgres, redis_server)
    finally:
        redis_server.kill()
        postgres.close()


@pytest.fixture(scope="package")
def fault_cluster(backends: Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    env = cluster_environment(
        postgres_url=backends.postgres.url, redis_url=backends.redis.url, redis_prefix="parley-faults"
    )
    with running_cluster(env, tmp_path_factory.mktemp("logs")) as cluster:
        yield cluster


def heal(cluster: Cluster, backends: Backends) -> None:
    """Start whatever is down, then wait until every process is ready."""
    if not backends.postgres.running:
        backends.postgres.start()
    if not backends.redis.running:
        backends.redis.start()
    processes = [cluster.messages, *cluster.presence, *cluster.gateways]
    for process in processes:
        if not process.running:
            process.launch()
    for process in processes:
        process.wait_ready()


@dataclass
class Faults:
    cluster: Cluster
    backends: Backends
    url: str  # the balancer in front of both gateways
    capsys: pytest.CaptureFixture[str]

    async def restart(self, process: ServiceProcess) -> None:
        """Start a stopped process again, on its port, and wait until it is ready (in a
        thread: the clients of this event loop must keep answering pings meanwhile)."""
        await asyncio.to_thread(process.start)

    async def all_ready(self, *, wait_s: float = 20) -> None:
        """Every process answers /readyz 200 again (without having been restarted)."""
        processes = [self.cluster.messages, *self.cluster.presence, *self.cluster.gateways]
        async with httpx.AsyncClient(timeout=2) as http, asyncio.timeout(wait_s):
            for process in processes:
                while True:
                    assert process.running, f"{process.name} exited:\n{process.logs()}"
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get(f"{process.url}/readyz")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)  # a process we do not control: poll it

    async def verdict(self, chat: Chat, scenario: str, *, may_fail: bool = False) -> Tally:
        """End the scenario: settle, one round of live delivery, presence, then the invariant.

        ``may_fail``: the fault outlasted the SDK's retries (PROTOCOL §6: 4 attempts over
        about 7 s), so a send may be reported ``failed``; the user retries it by hand, and
        it must then be stored exactly once like any other.
        """
        await chat.settle(retry_failed=may_fail, wait_s=SETTLE_S)
        await chat.live_round()
        await chat.all_online()
        await chat.settle(wait_s=SETTLE_S)
        tally = await check(chat, database_url=self.backends.postgres.url, scenario=scenario)
        with self.capsys.disabled():
            print(f"\n{tally.line()}" + (f" reconnects={chat.reconnects}" if chat.reconnects else ""))
        assert tally.problems == [], "\n".join(tally.problems)
        assert (tally.duplicates, tally.lost) == (0, 0)
        assert tally.acked == tally.sent, "every send ends acked (the SDK retried, or the user did)"
        if not may_fail:
            assert tally.failed == 0, "the SDK's own retries covered this fault"
        return tally


@pytest.fixture
async def faults(
    fault_cluster: Cluster, backends: Backends, capsys: pytest.CaptureFixture[str]
) -> AsyncIterator[Faults]:
    await asyncio.to_thread(heal, fault_cluster, backends)
    front = free_port()
    async with failover_balancer(front, [g.port for g in fault_cluster.gateways], spread=True):
        yield Faults(fault_cluster, backends, f"http://127.0.0.1:{front}", capsys)


async def send_outcomes(gateway: ServiceProcess) -> dict[str, float]:
    """``message:send`` outcomes this gateway counted since it started (its /metrics)."""
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(gateway.metrics_url)).text
    outcomes: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith('parley_gateway_events_total{event="message:send"'):
            labels, value = line.rsplit(" ", 1)
            outcome = labels.split('outcome="', 1)[1].split('"', 1)[0]
            outcomes[outcome] = float(value)
    return outcomes
