"""tests.support.ports: two processes are never handed the same port, even when it is free."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.ports import Ports

ROOT = Path(__file__).parents[2]
# Outside the range tests draw from (a server of theirs would make a port unbindable), and
# reserved in a file of this test alone.
RANGE = range(16_100, 16_140)
HALF = len(RANGE) // 2

CHILD = """
import sys
from pathlib import Path
from tests.support.ports import Ports
ports = Ports(Path(sys.argv[1]), range(int(sys.argv[2]), int(sys.argv[3])))
print(" ".join(str(ports.block([0])) for _ in range(int(sys.argv[4]))), flush=True)
sys.stdin.read()  # holds its reservations until told to exit
"""


def test_a_port_reserved_by_another_process_is_not_handed_out(tmp_path: Path) -> None:
    lock_path = tmp_path / "ports.lock"
    args = [str(lock_path), str(RANGE.start), str(RANGE.stop), str(HALF)]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        theirs = {int(port) for port in child.stdout.readline().split()}
        ours = Ports(lock_path, RANGE)
        mine = [ours.block([0]) for _ in range(HALF)]
        assert len(theirs) == HALF and len(set(mine)) == HALF
        assert theirs.isdisjoint(mine)
        assert ours.block([0]) in mine  # the range is used up: one of ours again, never theirs
    finally:
        child.communicate("")
    assert child.returncode == 0
    assert ours.block([0]) in theirs  # its exit dropped its reservations


def test_a_block_is_reserved_whole(tmp_path: Path) -> None:
    ports = Ports(tmp_path / "ports.lock", RANGE)
    base = ports.block([0, 1, 10])
    assert RANGE.start <= base and base + 10 < RANGE.stop
    others = {ports.block([0]) for _ in range(len(RANGE) - 3)}
    assert others.isdisjoint({base, base + 1, base + 10})
