"""The embedded default in DEV_MODE is for one's own machine (issue 15, finding 7): it bound
0.0.0.0 while its banner showed 127.0.0.1, minted a token for anyone who could reach it,
served a foreign ``Host`` (DNS rebinding from a web page) and echoed any Origin with
credentials. Here the real ``parley`` process, started as ``make run`` starts it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley_gateway.config import GatewaySettings
from parley_launcher.__main__ import banner
from parley_launcher.compose import EmbeddedSettings
from parley_messages.config import MessagesSettings
from parley_presence.config import PresenceSettings
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    directory = tmp_path_factory.mktemp("dev-mode")
    env = {"DEV_MODE": "true", "DATABASE_URL": f"sqlite:///{directory}/parley.db", "REDIS_URL": ""}
    process = ServiceProcess("parley_launcher", port=free_port(), env=env, log_dir=directory, name="parley")
    del process.env["HOST"]  # as `make run` starts it: HOST unset
    try:
        process.start()
        yield process
    finally:
        process.stop()


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_it_listens_on_the_loopback_only(embedded: ServiceProcess) -> None:
    assert listening_addresses(embedded.port) == {"0100007F"}  # 127.0.0.1, and nothing else
    assert listening_addresses(embedded.metrics_port) == {"0100007F"}


def embedded_settings(**env: Any) -> EmbeddedSettings:
    common: dict[str, Any] = {"dev_mode": True, "redis_url": None, **env}
    return EmbeddedSettings(
        messages=MessagesSettings(**common),
        gateway=GatewaySettings(**common),
        presence=PresenceSettings(**common),
    )


def test_its_banner_warns_when_it_is_reachable_from_elsewhere() -> None:
    local = banner(embedded_settings())
    assert "http://127.0.0.1:8000" in local and "WARNING" not in local
    exposed = banner(embedded_settings(host="0.0.0.0"))
    assert "reachable from other machines" in exposed
    assert "WARNING" in exposed and "sign in as anyone" in exposed
    secrets = {"jwt_secret": "x" * 32, "internal_token": "y" * 32}
    production = banner(embedded_settings(dev_mode=False, host="0.0.0.0", **secrets))
    assert "reachable from other machines" in production and "WARNING" not in production


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "localhost.evil.example"])
async def test_a_foreign_host_name_is_refused(embedded: ServiceProcess, host: str) -> None:
    """A page that points its own name at 127.0.0.1 still sends its name as ``Host``."""
    async with httpx.AsyncClient(base_url=embedded.url, timeout=5) as http:
        minted = await http.post("/api/dev/token", json={"userId": "alice"}, headers={"Host": host})
        assert minted.status_code == 400 and "token" not in minted.text
        handshake = await http.get(
            "/socket.io/", params={"EIO": "4", "transport": "polling"}, headers={"Host": host}
        )
        assert handshake.status_code == 400
        assert (await http.get("/", headers={"Host": host})).status_code == 400


@pytest.mark.parametrize("host", [None, "localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}"])
async def test_its_own_names_are_served(embedded: ServiceProcess, host: str | None) -> None:
    headers = {"Host": host.format(port=embedded.port)} if host else {}
    async with httpx.AsyncClient(base_url=embedded.url, timeout=5) as http:
        minted = await http.post("/api/dev/token", json={"userId": "alice"}, headers=headers)
        assert minted.status_code == 200, minted.text


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://evil.example", False),
        ("http://localhost:5173", True),  # the chat page's dev server
        ("http://192.168.1.20:8081", True),  # an Expo web build on the same Wi-Fi
    ],
)
async def test_only_local_origins_are_answered_as_trusted(
    embedded: ServiceProcess, origin: str, allowed: bool
) -> None:
    async with httpx.AsyncClient(base_url=embedded.url, timeout=5) as http:
        answer = await http.get(
            "/socket.io/", params={"EIO": "4", "transport": "polling"}, headers={"Origin": origin}
        )
    if allowed:
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == origin
    else:
        assert answer.status_code == 400
        assert "access-control-allow-origin" not in answer.headers  # so no browser lets it read


def test_listening_addresses_reads_the_kernels_table() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        probe.listen()
        assert listening_addresses(probe.getsockname()[1]) == {"0100007F"}
