"""``make cluster``'s plan: which processes, on which ports, sharing which secrets."""

from __future__ import annotations

import pytest

from parley_launcher.cluster import plan


def test_the_default_plan_is_messages_presence_and_two_gateways() -> None:
    services = plan({})

    assert [(s.name, s.module, s.port) for s in services] == [
        ("messages", "parley_messages", 8100),
        ("presence", "parley_presence", 8101),
        ("gateway-1", "parley_gateway", 8000),
        ("gateway-2", "parley_gateway", 8001),
    ]
    secrets = {(s.env["JWT_SECRET"], s.env["INTERNAL_TOKEN"]) for s in services}
    assert len(secrets) == 1  # every process accepts the others' tokens
    gateway = services[2].env
    assert gateway["MESSAGES_URL"] == gateway["API_PROXY_URL"] == "http://127.0.0.1:8100"


def test_port_and_gateways_move_everything() -> None:
    services = plan({"PORT": "9000", "GATEWAYS": "3", "DEV_MODE": "false", "JWT_SECRET": "s" * 32})

    assert [s.port for s in services] == [9100, 9101, 9000, 9001, 9002]
    assert "INTERNAL_TOKEN" not in services[0].env  # outside DEV_MODE no secret is made up


def test_a_silly_gateway_count_is_refused() -> None:
    with pytest.raises(SystemExit):
        plan({"GATEWAYS": "0"})
