"""The internal API (the gateway's) refuses every call without INTERNAL_TOKEN, on every route.

Already proven elsewhere: a missing or wrong token and a user's JWT are 401 on one route
(tests/messages/test_internal_api.py::test_requires_the_internal_token,
::test_user_tokens_do_not_open_the_internal_api); a placeholder or short INTERNAL_TOKEN
stops the service from starting (tests/common/test_config.py). Here: every route, every
near-miss of the token, and proof that a refused call changed nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import orjson
import pytest

from parley_common.bus import InProcessBus
from parley_common.config import DEV_INTERNAL_TOKEN
from parley_common.presence import InProcessReports
from parley_gateway.app import create_app as create_gateway
from parley_messages.app import create_app as create_messages
from tests.gateway.conftest import gateway_settings
from tests.messages.conftest import INTERNAL_TOKEN, Api, make_settings, serve
from tests.security.surface import internal_routes
from tests.support.ports import free_port
from tests.support.servers import uvicorn_serving

User = Callable[[str], str]

NEAR_MISSES: dict[str, dict[str, str]] = {
    "none": {},
    "empty-bearer": {"Authorization": "Bearer "},
    "wrong": {"Authorization": "Bearer not-the-internal-token"},
    "prefix": {"Authorization": f"Bearer {INTERNAL_TOKEN[:-1]}"},
    "suffix": {"Authorization": f"Bearer {INTERNAL_TOKEN}x"},
    "other-case": {"Authorization": f"Bearer {INTERNAL_TOKEN.upper()}"},
    "basic-scheme": {"Authorization": f"Basic {INTERNAL_TOKEN}"},
    "no-scheme": {"Authorization": INTERNAL_TOKEN},
    "wrong-header": {"X-Internal-Token": INTERNAL_TOKEN},
    "dev-default": {"Authorization": f"Bearer {DEV_INTERNAL_TOKEN}"},
    "two-tokens": {"Authorization": f"Bearer wrong, Bearer {INTERNAL_TOKEN}"},
}


@pytest.fixture
async def api(postgres_url: str) -> AsyncIterator[Api]:
    async with serve(make_settings(postgres_url)) as running:
        yield running


@pytest.fixture
def user() -> User:
    suffix = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{suffix}"


@pytest.mark.parametrize("headers", list(NEAR_MISSES.values()), ids=list(NEAR_MISSES))
async def test_every_internal_route_refuses_a_wrong_token(
    api: Api, user: User, headers: dict[str, str]
) -> None:
    alice = user("alice")
    conversation = await api.conversation(alice)
    before = (await api.client.get(f"/api/conversations/{conversation}", headers=api.auth(alice))).json()

    for method, path, body in internal_routes(conversation, alice):
        for extra in ({}, {"token": INTERNAL_TOKEN}):  # nor from the query string
            answer = await api.client.request(method, path, json=body, headers=headers, params=extra)
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.json()["error"]["code"] == "unauthenticated"

    after = (await api.client.get(f"/api/conversations/{conversation}", headers=api.auth(alice))).json()
    assert after == before  # nothing sent, nothing marked


async def test_a_users_jwt_does_not_open_any_internal_route(api: Api, user: User) -> None:
    alice = user("alice")
    conversation = await api.conversation(alice)

    for method, path, body in internal_routes(conversation, alice):
        answer = await api.client.request(method, path, json=body, headers=api.auth(alice))
        assert answer.status_code == 401, (method, path)


async def test_the_right_token_opens_every_route(api: Api, user: User) -> None:
    alice = user("alice")
    conversation = await api.conversation(alice)

    for method, path, body in internal_routes(conversation, alice):
        answer = await api.client.request(method, path, json=body, headers=api.internal())
        assert answer.status_code == 200, (method, path, answer.text)


async def test_the_internal_batch_checks_membership_per_send(api: Api, user: User) -> None:
    """The token lets the gateway act for a user; it never makes a non-member a member, nor
    one user's key another's (PROTOCOL §4.2), not even inside one batch."""
    alice, mallory = user("alice"), user("mallory")
    conversation = await api.conversation(alice)
    own = await api.conversation(mallory)
    key = str(uuid.uuid4())
    assert (await api.send(alice, conversation, body="alice's", key=key)).status_code == 201
    sends = [
        {"userId": mallory, "conversationId": conversation, "clientMessageId": key, "body": "replay"},
        {"userId": mallory, "conversationId": own, "clientMessageId": key, "body": "mine"},
        {"userId": mallory, "conversationId": own, "clientMessageId": "k\x00", "body": "garbage key"},
    ]

    answer = await api.client.post(
        "/internal/v1/messages/batch", json={"sends": sends}, headers=api.internal()
    )

    forbidden, stored, refused = answer.json()["results"]
    assert forbidden["error"]["code"] == "forbidden" and "message" not in forbidden
    assert (stored["message"]["senderId"], stored["message"]["body"], stored["duplicate"]) == (
        mallory,
        "mine",
        False,
    )
    assert refused["error"]["code"] == "invalid_payload"  # refused alone: the batch went through


async def raw_post(port: int, path: str, body: dict[str, str]) -> tuple[int, bytes]:
    """A POST sent byte for byte (HTTP clients resolve ``..`` before sending)."""
    content = orjson.dumps(body)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {INTERNAL_TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + content)
    answer = await reader.read()
    writer.close()
    status_line, _, payload = answer.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), payload


@pytest.mark.parametrize(
    "path",
    [
        "/api/../internal/v1/messages",
        "/api/%2e%2e/internal/v1/messages",
        "/api/..%2finternal/v1/messages",
        "/api/conversations/../../internal/v1/messages",
    ],
)
async def test_the_gateways_api_proxy_never_reaches_the_internal_api(
    postgres_url: str, user: User, path: str
) -> None:
    """The gateway forwards /api to messages (API_PROXY_URL, `make cluster`); a path that climbs
    out of /api must not arrive at /internal, even with the token (which the edge never holds)."""
    messages_port, gateway_port = free_port(), free_port()
    settings = make_settings(postgres_url)
    messages = create_messages(settings, bus=InProcessBus())
    gateway = create_gateway(
        gateway_settings(api_proxy_url=f"http://127.0.0.1:{messages_port}"),
        bus=InProcessBus(),
        presence_sink=InProcessReports(),
    )
    async with (
        uvicorn_serving(messages, messages_port),
        uvicorn_serving(gateway, gateway_port),
        serve(settings) as api,
    ):
        alice = user("alice")
        conversation = await api.conversation(alice)
        send = {"userId": alice, "conversationId": conversation, "clientMessageId": "k", "body": "smuggled"}

        status, payload = await raw_post(gateway_port, path, send)

        assert status == 404, payload
        details = await api.client.get(f"/api/conversations/{conversation}", headers=api.auth(alice))
        assert details.json()["lastSeq"] == 0
