"""The Expo app's web export (``make expo`` builds ``clients/expo/dist``), react-native-web in
Debian's Chromium driven by Playwright, against the production topology: the messages service,
a presence replica and two gateways as separate processes on the real PostgreSQL and Redis.

The page is served at a gateway's own origin, as an ingress in front of the cluster would serve
the app beside ``/api`` and ``/socket.io``: Playwright answers every other path of that origin
from the export, so the app, the HTTP API and the socket share one origin, as in production."""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, ViewportSize, async_playwright

from tests.cluster.conftest import Cluster, cluster_environment, running_cluster
from tests.conftest import unreachable
from tests.gateway.conftest import user
from tests.web.conftest import CHROMIUM_ARGS, chromium, shot

__all__ = ["chromium", "shot", "user"]

ROOT = Path(__file__).parents[2]
EXPORT = ROOT / "clients" / "expo" / "dist"
PHONE: ViewportSize = {"width": 390, "height": 760}


@pytest.fixture
def export_dir() -> Path:
    """The web export of the app (``make expo``); missing, the test fails under CI."""
    if not (EXPORT / "index.html").is_file():
        unreachable("the Expo web export", FileNotFoundError(f"{EXPORT}/index.html: run `make expo`"))
    return EXPORT


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    """Chromium as tests/web starts it, with Local Network Access checks off: a page that
    Playwright answers has no address of its own, so Chromium would count it as a public site
    and block its WebSocket to 127.0.0.1 (the app would then run on long-polling alone)."""
    async with async_playwright() as playwright:
        args = [*CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks"]
        launched = await playwright.chromium.launch(executable_path=chromium, args=args)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def topology(postgres_url: str, redis_url: str, redis_prefix: str, tmp_path: Path) -> Iterator[Cluster]:
    """Production processes, with DEV_MODE on (sign-in by name) and the gateways forwarding
    /api to messages, as ``make cluster`` runs them."""
    env = cluster_environment(postgres_url=postgres_url, redis_url=redis_url, redis_prefix=redis_prefix)
    with running_cluster(env | {"DEV_MODE": "true"}, tmp_path, api_proxy=True) as running:
        yield running


def load_export(export: Path) -> dict[str, tuple[bytes, str]]:
    """Every file of the export by URL path, with its content type."""
    return {
        "/" + str(file.relative_to(export)): (
            file.read_bytes(),
            mimetypes.guess_type(file.name)[0] or "application/octet-stream",
        )
        for file in export.rglob("*")
        if file.is_file()
    }


async def serve_export(context: BrowserContext, origin: str, files: dict[str, tuple[bytes, str]]) -> None:
    """Answer ``origin``'s paths from the export's ``files`` (index.html for the app's own
    routes), and let ``/api`` and ``/socket.io`` through to the gateway."""

    async def handle(route: Route) -> None:
        path = urlsplit(route.request.url).path
        if path.startswith(("/api/", "/socket.io/")):
            await route.fallback()
            return
        body, content_type = files.get(path) or files["/index.html"]
        await route.fulfill(status=200, body=body, content_type=content_type)

    await context.route(f"{origin}/**", handle)


@pytest.fixture
async def phone(
    browser: Browser, topology: Cluster, export_dir: Path
) -> AsyncIterator[tuple[BrowserContext, Page]]:
    """The app on a phone-sized page at the first gateway's origin."""
    origin = topology.gateways[0].url
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    await serve_export(context, origin, load_export(export_dir))
    page = await context.new_page()
    await page.goto(origin)
    try:
        yield context, page
    finally:
        await context.close()
