"""The TypeScript SDK (clients/ts/dist, `make ts-test` builds it) in a Node process, driven
over stdin/stdout by ``sdk_client.mjs``: what it reports, read line by line."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tests.conftest import unreachable

ROOT = Path(__file__).parents[2]
SCRIPT = Path(__file__).with_name("sdk_client.mjs")
BUILT_SDK = ROOT / "clients" / "ts" / "dist" / "index.js"


class NodeClient:
    """One SDK client in a Node process; the last state, modes and conversation it reported."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.state = ""
        self.modes: dict[str, str] = {}
        self.messages: list[dict[str, Any]] = []
        self.online: list[str] = []
        self.typing: list[str] = []
        self.errors: list[str] = []

    async def next(self, wait_s: float = 20) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), wait_s)
        assert line, "the Node client exited"
        event: dict[str, Any] = json.loads(line)
        self.state = event.get("state", self.state)
        self.modes = event.get("modes", self.modes)
        self.messages = event.get("messages", self.messages)
        self.online = event.get("online", self.online)
        self.typing = event.get("typing", self.typing)
        if "error" in event:
            self.errors.append(event["error"])
        return event

    async def until(self, check: Callable[[NodeClient], bool], wait_s: float = 20) -> None:
        async with asyncio.timeout(wait_s):
            while not check(self):
                await self.next()

    async def command(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()

    async def send(self, text: str) -> None:
        await self.command(send=text)


@asynccontextmanager
async def node_client(
    url: str, token: str, conversation_id: str, options: dict[str, Any] | None = None
) -> AsyncIterator[NodeClient]:
    node = shutil.which("node")
    if node is None or not BUILT_SDK.exists():
        unreachable("Node with the built TypeScript SDK", FileNotFoundError(f"{BUILT_SDK}: make ts-test"))
    assert node is not None
    process = await asyncio.create_subprocess_exec(
        node,
        str(SCRIPT),
        url,
        token,
        conversation_id,
        json.dumps(options or {}),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        yield NodeClient(process)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


def texts(client: NodeClient) -> list[str]:
    return [m["text"] for m in client.messages]
