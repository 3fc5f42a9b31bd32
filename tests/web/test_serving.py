"""The gateway serves the built chat page at / (WEB_UI), beside everything else it serves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from parley_gateway import web_ui
from tests.gateway.conftest import gateway_settings, serving


async def test_the_page_and_its_assets_are_served_beside_the_api(postgres_url: str) -> None:
    async with serving(postgres_url) as stack:
        page = await stack.http.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-cache"
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert (await stack.http.head("/")).status_code == 200

        scripts = re.findall(r'src="(/assets/[^"]+\.js)"', page.text)
        assert scripts, page.text
        script = await stack.http.get(scripts[0])
        assert script.status_code == 200
        assert "immutable" in script.headers["cache-control"]
        assert (await stack.http.get("/favicon.svg")).status_code == 200
        assert (await stack.http.get("/assets/nothing-here.js")).status_code == 404

        for path, status in [
            ("/healthz", 200),
            ("/readyz", 200),
            ("/metrics", 404),  # on METRICS_PORT, never beside the public routes
            ("/docs", 404),  # DEV_MODE only
            ("/openapi.json", 404),
            ("/api/conversations", 401),
            ("/socket.io/?EIO=4&transport=polling", 200),
        ]:
            assert (await stack.http.get(path)).status_code == status, path


async def test_web_ui_false_turns_the_page_off(postgres_url: str) -> None:
    async with serving(postgres_url, web_ui=False) as stack:
        assert (await stack.http.get("/")).status_code == 404
        assert (await stack.http.get("/healthz")).status_code == 200


def test_web_ui_is_validated() -> None:
    assert gateway_settings(web_ui="false").web_ui is False
    with pytest.raises(ValidationError, match="web_ui"):
        gateway_settings(web_ui="sometimes")


def test_the_built_page_ships_in_the_gateway_package() -> None:
    index = web_ui.WEB_DIR / "index.html"
    assert index.is_file(), "run `make web` and commit services/gateway/parley_gateway/web"
    for asset in re.findall(r'(?:src|href)="/(assets/[^"]+)"', index.read_text()):
        assert (web_ui.WEB_DIR / asset).is_file(), asset


def test_a_missing_build_leaves_the_root_alone(tmp_path: Path) -> None:
    app = FastAPI()
    web_ui.install(app, web_dir=tmp_path)
    assert not [route for route in app.routes if getattr(route, "path", None) == "/"]
