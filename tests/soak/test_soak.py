"""The soak (see :mod:`tests.soak.soak`): short in the normal suite, long with ``make soak``.

SOAK_CONNECTIONS (200), SOAK_SECONDS (30) and SOAK_SEND_EVERY_S (10: each connection sends
a message every that many seconds) size it; ``make soak`` runs 1,000 connections for
three minutes. The figures are printed; docs/reliability.md keeps the last long run's.
"""

from __future__ import annotations

import os

import pytest

from tests.cluster.conftest import Cluster
from tests.soak.soak import Soak

CONNECTIONS = int(os.environ.get("SOAK_CONNECTIONS", "200"))
SECONDS = float(os.environ.get("SOAK_SECONDS", "30"))
SEND_EVERY_S = float(os.environ.get("SOAK_SEND_EVERY_S", "10"))
# Memory after warm-up may wobble (allocator, caches filling); a leak grows with the traffic.
MEMORY_SLACK_MB = 8.0
MEMORY_SLACK_SHARE = 0.05
# After everyone left: what the first round left, give or take a scrape of /metrics.
FDS_SLACK = 2
TASKS_SLACK = 2

pytestmark = pytest.mark.timeout(2 * SECONDS + 240)


async def test_soak(processes: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    soak = Soak(processes, connections=CONNECTIONS, seconds=SECONDS, send_every_s=SEND_EVERY_S)
    report = await soak.run()
    with capsys.disabled():
        print("\n" + "\n".join(report.lines()))

    assert sum(report.errors.values()) == 0, report.errors
    assert report.acked == report.sent > 0
    assert (report.delivered, report.duplicates) == (report.expected_deliveries, 0)
    for name, figures in report.processes.items():
        warm, after = figures.after_warmup_round, figures.after
        assert warm is not None and after is not None
        slack_mb = max(MEMORY_SLACK_MB, MEMORY_SLACK_SHARE * figures.peak.rss_mb)
        assert figures.memory_growth_mb <= slack_mb, f"{name}: memory grew after warm-up"
        assert after.fds <= warm.fds + FDS_SLACK, f"{name}: file descriptors left behind"
        assert after.tasks <= warm.tasks + TASKS_SLACK, f"{name}: asyncio tasks left behind"
