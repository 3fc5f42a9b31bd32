"""Gateway settings, the optional /api proxy, and browser origins."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest

from parley_common.auth import mint_token
from parley_common.bus import InProcessBus
from parley_common.config import ConfigError
from parley_common.presence import InProcessReports
from parley_gateway.app import create_app as create_gateway
from parley_messages.app import create_app as create_messages
from parley_messages.config import MessagesSettings
from tests.gateway.conftest import common_settings, gateway_settings, serving
from tests.support.ports import free_port
from tests.support.servers import uvicorn_serving

SAME_ORIGIN = {"HTTP_HOST": "chat.example:8000"}


@pytest.mark.parametrize(
    ("settings", "origin", "allowed"),
    [
        ({"cors_origins": "https://a.example, https://b.example"}, "https://b.example", True),
        ({"cors_origins": "https://a.example, https://b.example"}, "https://c.example", False),
        ({"cors_origins": "*"}, "https://anyone.example", True),
        ({}, "http://chat.example:8000", True),  # same origin, always
        ({}, "https://evil.example", False),
        ({}, "http://localhost:5173", False),  # local pages only in DEV_MODE
        ({"dev_mode": True}, "http://localhost:5173", True),
        ({"dev_mode": True}, "http://127.0.0.1:19006", True),
        ({"dev_mode": True}, "http://192.168.1.20:8081", True),  # a phone's browser on the Wi-Fi
        ({"dev_mode": True}, "https://evil.example", False),
        ({"dev_mode": True}, "http://8.8.8.8", False),  # a public address is foreign too
        ({"dev_mode": True, "cors_origins": "https://a.example"}, "http://localhost:5173", False),
    ],
)
def test_which_origins_may_connect(settings: dict[str, Any], origin: str, allowed: bool) -> None:
    assert gateway_settings(**settings).origin_policy()(origin, SAME_ORIGIN) is allowed


def test_credentials_are_never_allowed_to_any_origin() -> None:
    assert not gateway_settings(cors_origins="*").origin_policy().credentials
    assert gateway_settings(cors_origins="https://a.example").origin_policy().credentials
    assert gateway_settings(dev_mode=True).origin_policy().credentials  # local origins only


def test_a_standalone_gateway_needs_redis() -> None:
    with pytest.raises(ConfigError, match="REDIS_URL"):
        create_gateway(gateway_settings())


def test_the_gateway_command_refuses_to_start_without_redis() -> None:
    env = {"DEV_MODE": "true", "REDIS_URL": "", "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-m", "parley_gateway"], env=env, capture_output=True, text=True, timeout=30
    )

    assert done.returncode == 2
    assert "REDIS_URL" in done.stderr


@pytest.mark.parametrize(
    ("origin", "allowed"), [("https://chat.example", True), ("https://evil.example", False)]
)
async def test_only_configured_browser_origins_may_connect(
    postgres_url: str, origin: str, allowed: bool
) -> None:
    async with serving(postgres_url, cors_origins="https://chat.example") as stack:
        answer = await stack.http.get(
            "/socket.io/", params={"EIO": "4", "transport": "polling"}, headers={"Origin": origin}
        )
    assert (answer.status_code == 200) is allowed


async def test_api_proxy_forwards_to_messages(postgres_url: str) -> None:
    token, _ = mint_token(gateway_settings(), "alice")
    auth = {"Authorization": f"Bearer {token}"}
    messages_port, gateway_port = free_port(), free_port()
    messages = create_messages(
        MessagesSettings(**common_settings(database_url=postgres_url)),
        bus=InProcessBus(),
    )
    gateway = create_gateway(
        gateway_settings(api_proxy_url=f"http://127.0.0.1:{messages_port}"),
        bus=InProcessBus(),
        presence_sink=InProcessReports(),
    )
    async with (
        uvicorn_serving(messages, messages_port),
        uvicorn_serving(gateway, gateway_port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway_port}") as http,
    ):
        created = await http.post("/api/conversations", json={"memberIds": []}, headers=auth)
        listed = await http.get("/api/conversations", headers=auth)
        refused = await http.get("/api/conversations")
        config = await http.get("/api/client-config", headers=auth)

    assert created.status_code == 201
    assert created.json()["id"] in [c["id"] for c in listed.json()["conversations"]]
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthenticated"
    assert config.status_code == 200
    assert config.json()["httpPollIntervalMs"] == 3000
    assert config.headers["cache-control"] == "no-store"
