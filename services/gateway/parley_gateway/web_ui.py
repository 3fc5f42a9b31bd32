"""The chat page (``clients/web``, built into ``web/`` by ``make web``), served at ``/``.

``index.html`` is never cached (it names the current build's assets); the assets' names
carry a hash of their content, so browsers keep them for a year. The page runs no inline
script and renders message bodies as text; its Content-Security-Policy allows nothing but
this origin, so even a markup bug in the page could not load or run anything foreign.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"

PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
        "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class _HashedAssets(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def install(app: FastAPI, web_dir: Path = WEB_DIR) -> None:
    """Serve the page at ``/`` (and ``/favicon.svg``, ``/assets/*``) when it has been built."""
    index = web_dir / "index.html"
    if not index.is_file():
        log.warning("WEB_UI is on but %s is missing (run `make web`): no chat page at /", index)
        return
    app.mount("/assets", _HashedAssets(directory=web_dir / "assets"), name="web-assets")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers=PAGE_HEADERS)

    @app.api_route("/favicon.svg", methods=["GET", "HEAD"], include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(web_dir / "favicon.svg", media_type="image/svg+xml")
