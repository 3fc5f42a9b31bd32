"""serve(): a process told to stop exits within its stop timeout, even when its shutdown hangs."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

ROOT = Path(__file__).parents[2]


def test_a_shutdown_that_hangs_is_cut_short_by_the_stop_timeout(tmp_path: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    stuck = ServiceProcess(
        "tests.common.stuck_at_shutdown", port=free_port(), env=env, log_dir=tmp_path, name="stuck"
    )
    try:
        stuck.start()
        stuck.signal(signal.SIGTERM)
        assert stuck.wait(30) == 1  # a bound, far above its 1 s stop timeout
        assert "shutting down, forever" in stuck.logs()
        assert "shutdown did not finish 1 s after the signal" in stuck.logs()
    finally:
        stuck.stop()
