"""``GET /api/client-config`` (PROTOCOL §7): the transports the operator lets clients use.

A constant answer built from the settings; the SDKs read it before connecting, after
every reconnect and at least every 5 minutes, and treat each feature as a ceiling on what
the app asked for.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from parley_common.wire import WireModel
from parley_messages.config import ClientConfigSettings
from parley_messages.deps import CurrentUser, SettingsDep
from parley_messages.metrics import CLIENT_CONFIG_READS

router = APIRouter(prefix="/api", tags=["public"])


class Features(WireModel):
    messages: Literal["socket", "http"]
    typing: Literal["socket", "off"]
    presence: Literal["socket", "http"]


class ClientConfig(WireModel):
    features: Features
    http_poll_interval_ms: int

    @classmethod
    def of(cls, settings: ClientConfigSettings) -> ClientConfig:
        return cls(
            features=Features(
                messages=settings.client_messages,
                typing=settings.client_typing,
                presence=settings.client_presence,
            ),
            http_poll_interval_ms=settings.client_http_poll_interval_ms,
        )


@router.get("/client-config")
async def client_config(_: CurrentUser, settings: SettingsDep, response: Response) -> ClientConfig:
    # No cache between the operator and the clients: a rollback must reach them at their next read.
    response.headers["Cache-Control"] = "no-store"
    CLIENT_CONFIG_READS.inc()
    return ClientConfig.of(settings)
