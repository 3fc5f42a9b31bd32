"""``GET /api/client-config`` (PROTOCOL §7): the operator's ceiling, from the environment."""

from __future__ import annotations

import pytest

from parley_common.config import ConfigError, load_settings
from parley_gateway.api_proxy import public_target
from parley_messages.config import MessagesSettings
from tests.messages.conftest import make_settings, serve

DEFAULT = {
    "features": {"messages": "socket", "typing": "socket", "presence": "socket"},
    "httpPollIntervalMs": 3000,
}


async def test_the_default_allows_sockets_for_everything(sqlite_url: str) -> None:
    async with serve(make_settings(sqlite_url)) as api:
        answer = await api.client.get("/api/client-config", headers=api.auth("alice"))
    assert answer.status_code == 200
    assert answer.json() == DEFAULT
    assert answer.headers["cache-control"] == "no-store"  # a rollback is never hidden by a cache


async def test_the_operator_sets_each_feature(sqlite_url: str) -> None:
    settings = make_settings(
        sqlite_url,
        client_messages="http",
        client_typing="off",
        client_presence="http",
        client_http_poll_interval_ms=750,
    )
    async with serve(settings) as api:
        answer = await api.client.get("/api/client-config", headers=api.auth("alice"))
    assert answer.json() == {
        "features": {"messages": "http", "typing": "off", "presence": "http"},
        "httpPollIntervalMs": 750,
    }


async def test_it_is_authenticated_like_every_api_route(sqlite_url: str) -> None:
    async with serve(make_settings(sqlite_url)) as api:
        missing = await api.client.get("/api/client-config")
        forged = await api.client.get("/api/client-config", headers={"Authorization": "Bearer not-a-jwt"})
    for answer in (missing, forged):
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthenticated"


def test_the_variables_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    monkeypatch.setenv("CLIENT_MESSAGES", "http")
    monkeypatch.setenv("CLIENT_TYPING", "off")
    monkeypatch.setenv("CLIENT_PRESENCE", "http")
    monkeypatch.setenv("CLIENT_HTTP_POLL_INTERVAL_MS", "5000")
    settings = load_settings(MessagesSettings, dev_mode=True, database_url=sqlite_url)
    assert (settings.client_messages, settings.client_typing, settings.client_presence) == (
        "http",
        "off",
        "http",
    )
    assert settings.client_http_poll_interval_ms == 5000


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CLIENT_MESSAGES", "websocket"),
        ("CLIENT_TYPING", "http"),  # typing has no HTTP path: socket or off
        ("CLIENT_PRESENCE", "off"),
        ("CLIENT_HTTP_POLL_INTERVAL_MS", "10"),  # a fleet polling 100 times a second
        ("CLIENT_HTTP_POLL_INTERVAL_MS", "3s"),
    ],
)
def test_a_bad_value_refuses_to_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings(MessagesSettings, dev_mode=True, database_url=sqlite_url)


def test_the_gateways_api_proxy_forwards_it() -> None:
    assert public_target("/api/client-config") == "/api/client-config"
