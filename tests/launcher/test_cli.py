"""The command line as a new user meets it: ``--help`` of every command works with no
configuration at all, and a server command with a bad configuration names the variable
and says how to fix it."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

pytestmark = pytest.mark.timeout(60)

# Nothing of the developer's or CI's configuration: what a fresh install has.
BARE_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}


async def run(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        env=BARE_ENV | (env or {}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["-m", "parley_launcher", "--help"], "COMMAND"),
        (["-m", "parley_launcher", "serve", "--help"], "environment variables"),
        (["-m", "parley_launcher", "chat", "--help"], "--transport {auto,websocket,polling}"),
        (["-m", "parley_launcher", "token", "--help"], "--user"),
        (["-m", "parley_launcher", "send", "--help"], "--conversation"),
        (["-m", "parley_gateway", "--help"], "environment variables"),
        (["-m", "parley_messages", "--help"], "migrate"),
        (["-m", "parley_presence", "--help"], "environment variables"),
        (["-m", "parley_launcher.cluster", "--help"], "GATEWAYS"),
    ],
    ids=["parley", "serve", "chat", "token", "send", "gateway", "messages", "presence", "cluster"],
)
async def test_help_needs_no_configuration(argv: list[str], says: str) -> None:
    code, out, err = await run(*argv)
    assert code == 0, err
    assert out.startswith("usage: ") and says in " ".join(out.split()), out
    assert "Invalid configuration" not in out + err


@pytest.mark.parametrize(
    ("argv", "env", "names", "fix"),
    [
        (["-m", "parley_launcher"], {}, "INTERNAL_TOKEN is required outside DEV_MODE", "DEV_MODE=true"),
        (["-m", "parley_launcher", "serve"], {"DEV_MODE": "maybe"}, "DEV_MODE: ", "valid boolean"),
        (
            ["-m", "parley_gateway"],
            {"INTERNAL_TOKEN": "x" * 32},
            "JWT_SECRET is required for HS* algorithms outside DEV_MODE",
            "JWT_PUBLIC_KEY",
        ),
        (["-m", "parley_messages"], {"DEV_MODE": "true", "PORT": "http"}, "PORT: ", "valid integer"),
    ],
    ids=["nothing-set", "bad-boolean", "no-jwt-secret", "bad-port"],
)
async def test_a_bad_configuration_names_the_variable_and_the_fix(
    argv: list[str], env: dict[str, str], names: str, fix: str
) -> None:
    code, _, err = await run(*argv, env=env)
    assert code == 2
    assert err.startswith("Invalid configuration:"), err
    line = next(line for line in err.splitlines() if names in line)
    assert fix in line, err
    assert "README.md" in err


async def test_client_commands_read_no_server_configuration() -> None:
    """`parley send` against nothing fails for the want of a server, not of server settings."""
    code, _, err = await run("-m", "parley_launcher", "send", "--conversation", "c", "--body", "x")
    assert code != 0
    assert "Invalid configuration" not in err and "--user" in err
