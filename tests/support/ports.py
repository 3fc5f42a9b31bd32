"""Ports for the servers that tests start, each handed to one process of the machine at a time.

A port that is free when it is chosen may be taken before the server told to listen on it
binds it (seen: "address already in use" at a process's start-up): by a test of the other
pytest-xdist worker, by another test run on the box, by an outgoing connection. So a port
is handed out only with a reservation: a lock on the byte at its offset in one file that
every test process shares (``fcntl.lockf``). The process keeps it until it exits, when the
kernel drops it, even after ``kill -9``: a server that is stopped and started again on its
port by a later test cannot lose it meanwhile.

The ports are below Linux's ephemeral range (32768-60999), which outgoing connections draw
from, and each is checked to be bindable: a process that takes no reservation (a leftover
server, another program) may hold it.
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

LISTEN_PORTS = range(20_000, 32_000)
LOCK_PATH = Path(tempfile.gettempdir()) / "parley-test-ports.lock"
_TRIES = 2_000


class Ports:
    """The reservations of this process in ``ports``, recorded in the file at ``lock_path``."""

    def __init__(self, lock_path: Path, ports: range) -> None:
        self._path = lock_path
        self._ports = ports
        self._guard = threading.Lock()
        self._held: set[int] = set()  # reserved by this process, each handed out once
        self._fd: int | None = None

    def block(self, offsets: Sequence[int]) -> int:
        """A port P such that P + each offset is free, all of them reserved for this process."""
        bases = range(self._ports.start, self._ports.stop - max(offsets))
        with self._guard:
            for _ in range(_TRIES):
                base = random.choice(bases)
                if self._reserve([base + offset for offset in offsets]):
                    return base
            # Every port not handed out yet is reserved elsewhere: reuse ours that are free again.
            for _ in range(_TRIES):
                base = random.choice(bases)
                if all(base + o in self._held and _bindable(base + o) for o in offsets):
                    return base
        raise RuntimeError(f"no free block of ports {list(offsets)} in {self._ports}")

    def _reserve(self, ports: list[int]) -> bool:
        if any(port in self._held for port in ports):
            return False
        taken: list[int] = []
        for port in ports:
            if not self._lock(port):
                break
            taken.append(port)
            if not _bindable(port):
                break
        else:
            self._held.update(ports)
            return True
        for port in taken:
            fcntl.lockf(self._file(), fcntl.LOCK_UN, 1, port, os.SEEK_SET)
        return False

    def _lock(self, port: int) -> bool:
        try:
            fcntl.lockf(self._file(), fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port, os.SEEK_SET)
        except OSError:
            return False
        return True

    def _file(self) -> int:
        if self._fd is None:
            # Never closed: closing any descriptor of the file drops all of this process's locks on it.
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o666)
        return self._fd


_PORTS = Ports(LOCK_PATH, LISTEN_PORTS)


def free_port() -> int:
    """A port that nothing listens on, reserved for this process."""
    return _PORTS.block([0])


def free_port_block(offsets: Sequence[int]) -> int:
    """A port P such that P + each offset is free, all of them reserved for this process."""
    return _PORTS.block(offsets)


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
