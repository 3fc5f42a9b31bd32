"""Running an ASGI app under uvicorn, with a hook that runs before connections are cut.

uvicorn's shutdown closes the listeners, then every connection (WebSockets with 1012,
which Socket.IO clients take as "reconnect"), then runs the lifespan shutdown. A gateway
wants a step in between: stop taking new work and let in-flight events be answered.

It also serves ``/metrics`` on a port of its own (METRICS_PORT), next to the app in the same
event loop, and tunes CPython's cyclic garbage collector for a server (:data:`GC_THRESHOLDS`).

A process told to stop exits within ``stop_timeout_s`` whatever its shutdown meets (a task
that does not end, a client whose close hangs): past it, a watchdog thread ends it with
status 1. One that outlived its launcher held its ports for good.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import threading
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

import uvicorn

from parley_common.observability import metrics_app

BeforeShutdown = Callable[[], Awaitable[None]]

log = logging.getLogger(__name__)

# From the first SIGTERM or SIGINT to the exit, for a service without a drain: closing its
# connections and its lifespan's clients takes well under a second when nothing is wrong.
STOP_TIMEOUT_S = 10.0

# With CPython's defaults (700, 10, 10) the gateway at 1,500 msg/s spent a fifth of its CPU
# in the collector, and each full collection paused it for ~140 ms (the ack latency's p99):
# what a send keeps alive while it waits for its batch outlives a few hundred allocations,
# so it was promoted to the oldest generation, whose growth triggers full collections.
# A young generation of 20,000 lets those objects die young; collections of it take a few
# ms. Measured side by side in docs/performance.md.
GC_THRESHOLDS = (20_000, 20, 10)


class GracefulServer(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        *,
        before_shutdown: BeforeShutdown | None = None,
        on_started: Callable[[], None] | None = None,
        metrics: uvicorn.Server | None = None,
        stop_timeout_s: float = STOP_TIMEOUT_S,
    ) -> None:
        super().__init__(config)
        self._before_shutdown = before_shutdown
        self._on_started = on_started
        self._metrics = metrics
        self._stop_timeout_s = stop_timeout_s
        self._watchdog: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._watchdog is None:
            # A thread, not a task: it must fire even if the event loop is what is stuck.
            self._watchdog = threading.Timer(self._stop_timeout_s, _exit_now, (self._stop_timeout_s,))
            self._watchdog.daemon = True
            self._watchdog.start()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self._metrics is not None and self.started:
            await self._metrics.startup()  # exits, as uvicorn does, if its port is taken
        # What start-up built (modules, the app, pools) lives as long as the process: out of
        # the collector's sight, so that full collections scan only what serving creates.
        gc.collect()
        gc.freeze()
        if self._on_started is not None and self.started:
            self._on_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections while the hook runs
        if self._before_shutdown is not None and not self.force_exit:
            await self._before_shutdown()
        await super().shutdown(sockets=sockets)
        if self._metrics is not None and self._metrics.started:
            await self._metrics.shutdown()


def serve(
    app: Any,
    *,
    host: str,
    port: int,
    metrics_port: int = 0,
    before_shutdown: BeforeShutdown | None = None,
    on_started: Callable[[], None] | None = None,
    stop_timeout_s: float = STOP_TIMEOUT_S,
    **options: Any,
) -> None:
    """Serve ``app`` with one worker (Socket.IO long-polling needs every request on one
    process), and ``/metrics`` on ``metrics_port`` of the same ``host`` unless it is 0;
    exit at the latest ``stop_timeout_s`` after a SIGTERM."""
    # No access log: a long-polling client alone makes a request every ping interval.
    options.setdefault("access_log", False)
    options.setdefault("log_config", None)  # logging is set up by configure_logging()
    # Chat frames are small: compressing each costs more CPU than the bytes it saves.
    options.setdefault("ws_per_message_deflate", False)
    config = uvicorn.Config(app, host=host, port=port, workers=1, **options)
    gc.set_threshold(*GC_THRESHOLDS)
    # uvicorn handles SIGTERM, shuts down gracefully, then re-raises the signal to the handler
    # that was installed before it: make that one a clean exit, not death by signal.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    metrics = _metrics_server(host, metrics_port) if metrics_port else None
    GracefulServer(
        config,
        before_shutdown=before_shutdown,
        on_started=on_started,
        metrics=metrics,
        stop_timeout_s=stop_timeout_s,
    ).run()


def _metrics_server(host: str, port: int) -> uvicorn.Server:
    """A second uvicorn server for ``/metrics``, started and stopped by the main one (not run:
    ``run`` would take over the process's signal handlers)."""
    config = uvicorn.Config(
        metrics_app(), host=host, port=port, lifespan="off", access_log=False, log_config=None
    )
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)  # what ``Server.serve`` would set: a no-op
    return server


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _exit_now(waited_s: float) -> None:
    log.error("shutdown did not finish %g s after the signal: exiting without it", waited_s)
    os._exit(1)
