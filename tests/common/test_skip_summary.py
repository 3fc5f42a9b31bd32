"""``make test`` without its servers says so, loudly, at the end (tests/conftest.py)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


async def test_a_run_without_postgresql_ends_with_what_was_skipped_and_why() -> None:
    env = os.environ | {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing", "CI": "false"}
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
        "tests/messages/test_migrations.py",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    said = out.decode()

    assert process.returncode == 0, said  # green, and yet:
    summary = said[said.index("passed, 2 skipped") :]  # after pytest's own counts: the last lines
    assert "NOT A FULL RUN: 2 test(s) skipped" in summary, said
    assert "2 skipped: PostgreSQL is unreachable: ConnectionRefusedError" in summary, said
    assert "under CI=true a server or tool these tests cannot reach fails them" in summary
