"""Parley's attack surface, enumerated once: every socket event and every HTTP route.

The suite's tests go through these lists; tests/security/test_authorization.py checks them
against the code (the namespace's handlers, the messages app's OpenAPI document), so a new
event or route fails the suite until it is added here, and so tested.
"""

from __future__ import annotations

import uuid
from typing import Any

from parley_gateway.sio.namespace import ChatNamespace
from parley_messages.api import send_route
from parley_messages.app import create_app
from parley_messages.config import MessagesSettings
from tests.gateway.conftest import common_settings

ANY_ID = "{conversation_id}"

SOCKET_EVENTS = [
    "message:send",
    "conversation:join",
    "conversation:leave",
    "typing:start",
    "typing:stop",
    "message:delivered",
    "message:read",
    "messages:sync",
]


def socket_payload(event: str, conversation_id: str) -> dict[str, Any]:
    """A payload ``event`` would accept from a member of ``conversation_id``."""
    if event == "message:send":
        return {"conversationId": conversation_id, "clientMessageId": str(uuid.uuid4()), "body": "hello"}
    if event in ("message:delivered", "message:read"):
        return {"conversationId": conversation_id, "upToSeq": 1}
    return {"conversationId": conversation_id}


def http_routes(conversation_id: str) -> list[tuple[str, str, Any]]:
    """Every route of the public HTTP API, each with a body it would accept."""
    base = f"/api/conversations/{conversation_id}"
    return [
        ("POST", "/api/conversations", {"memberIds": [], "title": "mine now"}),
        ("GET", "/api/conversations", None),
        ("GET", base, None),
        ("GET", f"{base}/messages", None),
        ("POST", f"{base}/messages", {"clientMessageId": str(uuid.uuid4()), "body": "hello"}),
        ("POST", f"{base}/delivered", {"upToSeq": 1}),
        ("POST", f"{base}/read", {"upToSeq": 1}),
        ("GET", "/api/client-config", None),
    ]


def internal_routes(conversation_id: str, user_id: str) -> list[tuple[str, str, Any]]:
    """Every route of the internal API (the gateway's), each with a body it would accept."""
    base = f"/internal/v1/conversations/{conversation_id}"
    send = {"userId": user_id, "conversationId": conversation_id, "clientMessageId": str(uuid.uuid4())}
    return [
        ("POST", "/internal/v1/messages", {**send, "body": "hello"}),
        ("POST", "/internal/v1/messages/batch", {"sends": [{**send, "body": "hello"}]}),
        ("POST", f"{base}/join", {"userId": user_id}),
        ("POST", f"{base}/access", {"userId": user_id}),
        ("POST", f"{base}/sync", {"userId": user_id}),
        ("POST", f"{base}/delivered", {"userId": user_id, "upToSeq": 1}),
        ("POST", f"{base}/read", {"userId": user_id, "upToSeq": 1}),
    ]


def served_routes(prefix: str) -> set[tuple[str, str]]:
    """The messages app's routes under ``prefix``, from its OpenAPI document (the dev routes
    are off outside DEV_MODE), and the batch send route in front of it."""
    paths = create_app(MessagesSettings(**common_settings())).openapi()["paths"]
    routes = {("POST", send_route.PATH)} if send_route.PATH.startswith(prefix) else set()
    return routes | {
        (method.upper(), path) for path, item in paths.items() if path.startswith(prefix) for method in item
    }


def handled_events() -> set[str]:
    """The events ChatNamespace answers: its ``on_<event>`` methods (connect aside)."""
    names = [name[3:] for name in vars(ChatNamespace) if name.startswith("on_")]
    return {name.replace("_", ":", 1) for name in names if name not in ("connect", "disconnect")}
