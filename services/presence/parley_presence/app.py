"""Composition root of the presence service: ``create_app(settings)``.

Presence tracking arrives with the presence issue; today the service serves its probes.
"""

from __future__ import annotations

from fastapi import FastAPI

from parley_common.http import install_error_handlers, probe_router
from parley_presence.config import PresenceSettings


def create_app(settings: PresenceSettings) -> FastAPI:
    app = FastAPI(title="Parley presence", version="1", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app)
    app.include_router(probe_router())
    return app
