"""The chat page in headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright)
against the embedded default in DEV_MODE, served by a real uvicorn on the session's
PostgreSQL database. Screenshots go to ``SCREENSHOTS_DIR`` (default ``var/screenshots``)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)

from parley_common.auth import mint_token
from parley_gateway.config import GatewaySettings
from parley_launcher.compose import EmbeddedApp, EmbeddedSettings
from parley_messages.config import MessagesSettings
from parley_presence.config import PresenceSettings
from tests.cluster.conftest import Cluster
from tests.conftest import unreachable
from tests.gateway.conftest import common_settings, user
from tests.support.ports import free_port
from tests.support.servers import uvicorn_serving

__all__ = ["user"]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# This machine's network is closed: no background calls home that would be refused.
CHROMIUM_ARGS = ["--disable-background-networking", "--disable-component-update", "--disable-quic"]
ROOT = Path(__file__).parents[2]
DESKTOP: ViewportSize = {"width": 1100, "height": 720}
PHONE: ViewportSize = {"width": 390, "height": 760}
EXPIRED = "Your session has expired. Please sign in again."


class Server:
    def __init__(self, url: str, settings: EmbeddedSettings, gateways: list[str] | None = None) -> None:
        self.url = url
        self.settings = settings
        self.gateways = gateways or [url]  # each serves the page (the first: ``url``)

    def token(self, user_id: str, *, ttl_s: int = 3600) -> str:
        token, _ = mint_token(self.settings.gateway, user_id, ttl_s=ttl_s)
        return token


@pytest.fixture
async def server(request: pytest.FixtureRequest, postgres_url: str) -> AsyncIterator[Server]:
    """Parley in DEV_MODE (sign-in by name) on a free port; parametrised ``production``, the
    session's production topology (two gateways, each serving the page and /api)."""
    dev = common_settings(dev_mode=True)
    settings = EmbeddedSettings(
        messages=MessagesSettings(**dev, database_url=postgres_url),
        gateway=GatewaySettings(**dev),
        presence=PresenceSettings(**dev),
    )
    if getattr(request, "param", "embedded") == "production":
        cluster: Cluster = request.getfixturevalue("production_cluster")
        urls = [gateway.url for gateway in cluster.gateways]
        yield Server(urls[0], settings, urls)
        return
    port = free_port()
    async with uvicorn_serving(EmbeddedApp(settings), port, **settings.gateway.server_options()):
        yield Server(f"http://127.0.0.1:{port}", settings)


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium (`.ci/run` installs it); never a browser downloaded by Playwright."""
    path = shutil.which(CHROMIUM)
    if path is None:
        unreachable("Chromium", FileNotFoundError(f"{CHROMIUM}: apt-get install chromium"))
    assert path is not None
    return path


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


Shot = Callable[[Page, str], Awaitable[None]]


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shot:
    """``await shot(page, "name")`` saves ``<SCREENSHOTS_DIR>/<name>.png``."""
    folder = Path(os.environ.get("SCREENSHOTS_DIR", ROOT / "var" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)

    async def take(page: Page, name: str) -> None:
        await page.screenshot(path=folder / f"{name}.png")

    return take


async def new_page(
    browser: Browser, server: Server, *, phone: bool = False, gateway: int = 0
) -> tuple[BrowserContext, Page]:
    """A page of its own context (cookies, storage), opened on gateway number ``gateway``."""
    context = await browser.new_context(
        viewport=PHONE if phone else DESKTOP,
        device_scale_factor=2 if phone else 1,
        is_mobile=phone,
        has_touch=phone,
    )
    page = await context.new_page()
    await page.goto(server.gateways[gateway % len(server.gateways)])
    return context, page


async def sign_in(page: Page, user_id: str) -> None:
    await page.get_by_label("Your name").fill(user_id)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "connected")


async def sign_in_with_token(page: Page, token: str) -> None:
    await page.get_by_text("Sign in with a token").click()
    await page.get_by_label("Token from your app's backend (JWT)").fill(token)
    await page.get_by_role("button", name="Sign in with token").click()


async def open_conversation(page: Page, name: str) -> None:
    await page.get_by_test_id("conversation-item").filter(has_text=name).click()
    await expect(page.get_by_role("heading", name=name)).to_be_visible()


async def send(page: Page, body: str) -> None:
    composer = page.get_by_label("Message", exact=True)
    await composer.fill(body)
    await composer.press("Enter")
    await expect(composer).to_have_value("")


def member(page: Page, user_id: str) -> Locator:
    return page.get_by_test_id("member").and_(page.locator(f'[data-user="{user_id}"]'))


def exact(text: str) -> re.Pattern[str]:
    return re.compile(f"^{re.escape(text)}$")
