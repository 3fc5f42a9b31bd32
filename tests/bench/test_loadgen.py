"""Parley's load generator (bench/parley_bench) against a real server, with tiny sizes: every send
acked, every delivery seen once and in order, seqs gap-free, every connection held. It is what
``make bench`` measures with, so CI keeps it working; the figures themselves are not checked."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.parley_bench import report
from bench.parley_bench.cli import run
from bench.parley_bench.options import Options, parse
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """The embedded default in its own process (so its pid can be watched): (URL, pid)."""
    tmp = tmp_path_factory.mktemp("bench")
    env = {"DEV_MODE": "true", "LOG_LEVEL": "WARNING", "DATABASE_URL": f"sqlite:///{tmp / 'parley.db'}"}
    process = ServiceProcess("parley_launcher", port=free_port(), env=env, log_dir=tmp, name="embedded")
    process.env.pop("REDIS_URL", None)  # the embedded default: in-process bus, presence and limits
    process.start()
    assert process.process is not None
    try:
        yield process.url, process.process.pid
    finally:
        process.stop()


def options(url: str, pid: int, *flags: str) -> Options:
    return parse(
        [
            "--url",
            url,
            "--secret",
            "dev-secret",
            "--pid",
            f"server:{pid}",
            "--drain",
            "3",
            "--settle",
            "0.3",
            *flags,
        ]
    )


async def test_chat_every_message_acked_and_delivered_once_in_order(server: tuple[str, int]) -> None:
    url, pid = server
    opt = options(url, pid, "--scenario", "chat", "--conversations", "6", "--members", "3")
    opt = replace(opt, rate=(30,), duration=1, warmup=0.5)

    result = await run(opt)

    assert "error" not in result, result
    (step,) = result["steps"]
    assert step["sent"] == step["acked"] == 30
    assert step["errors"] == {} and step["noAck"] == 0
    assert step["delivered"] == step["expectedDeliveries"] == 30 * 2
    assert step["missingDeliveries"] == step["duplicates"] == step["outOfOrder"] == 0
    assert step["ackMs"]["n"] == 30 and step["deliveryMs"]["n"] == 60
    assert result["seqCheck"] == {"conversations": 6, "withGaps": 0, "duplicateSeqs": 0}
    assert step["usage"]["serverCpuPct"] is not None and "loadgenCpuPct" in step["usage"]
    assert step["cpuMsPerMessage"]["server"] is not None
    # And the doc's table reads it.
    record = {"server": "parley", "run": 0, "key": "chat", "argv": [], "result": result}
    plan = {"chat": {"--conversations": "6", "--members": "3", "--rate": "30"}}
    assert "| 0 |" in report.table([record], plan, ["parley"])


async def test_chat_over_two_worker_processes(server: tuple[str, int]) -> None:
    url, pid = server
    opt = options(url, pid, "--scenario", "chat", "--conversations", "4", "--members", "2", "--workers", "2")
    opt = replace(opt, rate=(20,), duration=1, warmup=0)

    result = await run(opt)

    assert "error" not in result, result
    (step,) = result["steps"]
    assert step["sent"] == step["acked"] == step["delivered"] == 20
    assert step["missingDeliveries"] == step["duplicates"] == step["outOfOrder"] == 0
    assert result["seqCheck"]["withGaps"] == result["seqCheck"]["duplicateSeqs"] == 0


async def test_connect_holds_every_connection(server: tuple[str, int]) -> None:
    url, pid = server
    opt = options(url, pid, "--scenario", "connect", "--n", "30", "--ramp", "100", "--hold", "0.5")
    opt = replace(opt, warmup_conns=5)

    result: dict[str, Any] = await run(opt)

    assert "error" not in result, result
    assert result["connections"] | {"failures": None} == {
        "attempted": 30, "connected": 30, "aliveAfterHold": 30, "failed": 0, "disconnectsDuringHold": 0,
        "failures": None,
    }  # fmt: skip
    assert result["connectMs"]["n"] == 30
    assert result["serverRss"]["afterHoldMB"] > 0 and result["rssTimeline"][-1][0] == 30


async def test_fanout_reaches_every_member(server: tuple[str, int]) -> None:
    url, pid = server
    opt = options(url, pid, "--scenario", "fanout", "--members", "8", "--messages", "3", "--interval", "50")

    result = await run(opt)

    assert "error" not in result, result
    assert result["complete"] == 3 and result["deliveries"] == result["expectedDeliveries"] == 3 * 7
    assert result["duplicates"] == 0 and result["lastReceiptMs"]["n"] == 3


def test_rates_parse_and_the_doc_keeps_its_hand_written_text(tmp_path: Path) -> None:
    assert parse(["--rate", "100,250.5"]).rate == (100, 250.5)
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Perf\n\nhand-written\n\n{report.BEGIN}\nold\n{report.END}\n\nmore hand-written\n")
    report.splice(doc, "new table", "## Generated")
    assert (
        doc.read_text()
        == f"# Perf\n\nhand-written\n\n{report.BEGIN}\nnew table\n{report.END}\n\nmore hand-written\n"
    )
