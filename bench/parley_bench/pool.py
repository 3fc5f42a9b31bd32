"""The agents holding the sockets: one in this process (``--workers 1``), or one per worker process,
driven over a pipe. Calls are ``await worker.call("chat.phase", **kwargs)`` either way, and several
may run at once on one worker (e.g. ``connect.count`` during ``connect.ramp``)."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import resource
import traceback
from multiprocessing.connection import Connection
from typing import Any

from .agent import COMMANDS, Agent
from .options import Options


def raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency of the services
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


class LocalWorker:
    def __init__(self, opt: Options, index: int) -> None:
        self.agent = Agent(opt, index)
        self.pid = os.getpid()

    async def call(self, name: str, **kwargs: Any) -> Any:
        return await COMMANDS[name](self.agent, **kwargs)

    async def stop(self) -> None:
        await self.agent.aclose()


class ProcessWorker:
    def __init__(self, opt: Options, index: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, opt, index), daemon=True)
        self.process.start()
        child.close()
        self.pid = self.process.pid or 0
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        asyncio.get_running_loop().add_reader(self.conn.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            reply = self.conn.recv()
        except EOFError:
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(RuntimeError("worker exited"))
            return
        future = self._waiting.pop(reply["id"])
        if future.done():
            return
        if "error" in reply:
            future.set_exception(RuntimeError(f"worker {self.pid}: {reply['error']}"))
        else:
            future.set_result(reply.get("result"))

    async def call(self, name: str, **kwargs: Any) -> Any:
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self.conn.send({"id": request_id, "name": name, "kwargs": kwargs})
        return await future

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.call("close"), 30)
            self.conn.send({"id": 0, "name": "exit", "kwargs": {}})
        except (RuntimeError, TimeoutError, OSError):
            pass
        asyncio.get_running_loop().remove_reader(self.conn.fileno())
        await asyncio.to_thread(self.process.join, 10)
        if self.process.is_alive():
            self.process.kill()


Worker = LocalWorker | ProcessWorker


def _worker_main(conn: Connection, opt: Options, index: int) -> None:
    raise_open_files_limit()
    use_uvloop()
    from . import chat, connect, fanout  # noqa: F401 - registers their commands

    asyncio.run(_serve(conn, Agent(opt, index)))


async def _serve(conn: Connection, agent: Agent) -> None:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    tasks: set[asyncio.Task[None]] = set()

    async def run(request: dict[str, Any]) -> None:
        try:
            result = await COMMANDS[request["name"]](agent, **request["kwargs"])
            conn.send({"id": request["id"], "result": result})
        except Exception:  # reported to the coordinator, which raises it
            conn.send({"id": request["id"], "error": traceback.format_exc()})

    def readable() -> None:
        try:
            request = conn.recv()
        except EOFError:
            request = {"name": "exit"}
        if request["name"] == "exit":
            if not done.done():
                done.set_result(None)
            return
        task = loop.create_task(run(request))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    loop.add_reader(conn.fileno(), readable)
    await done
    loop.remove_reader(conn.fileno())
    await agent.aclose()


async def start(opt: Options) -> list[Worker]:
    if opt.workers == 1:
        return [LocalWorker(opt, 0)]
    workers: list[Worker] = [ProcessWorker(opt, i) for i in range(opt.workers)]
    await asyncio.gather(*(w.call("pid") for w in workers))  # every one is up
    return workers


async def call_all(
    workers: list[Worker], name: str, per_worker: list[dict[str, Any]] | None = None, **kwargs: Any
) -> list[Any]:
    """The same command on every worker at once (``per_worker[i]`` adds worker i's own arguments)."""
    return list(
        await asyncio.gather(
            *(w.call(name, **kwargs, **(per_worker[i] if per_worker else {})) for i, w in enumerate(workers))
        )
    )
