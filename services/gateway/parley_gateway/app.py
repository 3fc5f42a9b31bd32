"""Composition root of the gateway: ``create_app(settings)``.

The Socket.IO server and its handlers arrive with the gateway issue; today the gateway
serves its probes, so that the embedded launcher and deployments have their shape.
"""

from __future__ import annotations

from fastapi import FastAPI

from parley_common.http import install_error_handlers, probe_router
from parley_gateway.config import GatewaySettings


def create_app(settings: GatewaySettings) -> FastAPI:
    app = FastAPI(title="Parley gateway", version="1", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app)
    app.include_router(probe_router())
    return app
