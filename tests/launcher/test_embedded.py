"""The embedded default as a user runs it: a real `parley` process on SQLite."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "DEV_MODE": "true",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'parley.db'}",
    }
    env.pop("REDIS_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "parley_launcher",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    try:
        # The banner is printed once every service has started.
        banner = b""
        while b"get a dev token" not in banner:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            assert line, f"parley exited early:\n{banner.decode()}"
            banner += line
        assert f"http://127.0.0.1:{port}".encode() in banner
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=15)


async def test_http_api_end_to_end(embedded: str) -> None:
    async with httpx.AsyncClient(base_url=embedded) as client:
        await _wait_ready(client)
        token = (await client.post("/api/dev/token", json={"userId": "alice"})).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        created = await client.post("/api/conversations", json={"memberIds": ["bob"]}, headers=auth)
        assert created.status_code == 201
        conversation = created.json()["id"]
        sent = await client.post(
            f"/api/conversations/{conversation}/messages",
            json={"clientMessageId": str(uuid.uuid4()), "body": "hello from the embedded default"},
            headers=auth,
        )
        assert sent.status_code == 201
        history = await client.get(f"/api/conversations/{conversation}/messages", headers=auth)
        assert [m["body"] for m in history.json()["messages"]] == ["hello from the embedded default"]
        assert (await client.get("/docs")).status_code == 200
        config = await client.get("/api/client-config", headers=auth)  # PROTOCOL §7, served by messages
        assert config.json()["features"] == {"messages": "socket", "typing": "socket", "presence": "socket"}


async def _wait_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text


async def test_the_readme_client_example_runs(embedded: str) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    example = example.replace('URL = "http://127.0.0.1:8000"', f'URL = "{embedded}"')
    assert embedded in example, "the example's URL line changed; update this test"

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", example, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)

    assert process.returncode == 0, output.decode()
    assert "'duplicate': False" in output.decode()


async def test_sigterm_exits_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DEV_MODE": "true", "PORT": str(port), "HOST": "127.0.0.1"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'parley.db'}"
    env.pop("REDIS_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "parley_launcher", env=env, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    while b"get a dev token" not in (line := await asyncio.wait_for(process.stdout.readline(), 30)):
        assert line, "parley exited before its banner"

    process.terminate()

    assert await asyncio.wait_for(process.wait(), 15) == 0


async def test_parley_token_mints_a_dev_token(embedded: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "parley_launcher", "token", "--url", embedded, "--user", "alice",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 0
    token = output.decode().strip()
    async with httpx.AsyncClient(base_url=embedded) as client:
        listed = await client.get("/api/conversations", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200


async def test_the_sdk_readme_example_runs(embedded: str) -> None:
    readme = (Path(__file__).parents[2] / "clients" / "python" / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    async with httpx.AsyncClient(base_url=embedded) as client:
        token = (await client.post("/api/dev/token", json={"userId": "alice"})).json()["token"]
        created = await client.post(
            "/api/conversations", json={"memberIds": ["bob"]}, headers={"Authorization": f"Bearer {token}"}
        )
    example = example.replace("http://127.0.0.1:8000", embedded).replace(
        "<conversation id>", created.json()["id"]
    )
    example = example.replace('outbox_path="outbox.db"', "outbox_path=None")

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", example, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 0, output.decode()
    assert "('hello', 'sent')" in output.decode()
