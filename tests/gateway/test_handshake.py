"""Authentication of the Socket.IO handshake (PROTOCOL §2) and the token's lifetime."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import socketio
from jose import jwt

from parley_gateway.expiry import TokenExpiry
from tests.gateway.conftest import SECRET, Stack
from tests.support.sockets import SocketClient


async def refusal(stack: Stack, *, query: str = "", **connect: Any) -> tuple[str, Any]:
    """Connect expecting a refusal; return the connect_error's message and data."""
    client = SocketClient(reconnection=False)
    errors: asyncio.Queue[Any] = asyncio.Queue()

    @client.sio.event
    async def connect_error(data: Any) -> None:
        errors.put_nowait(data)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(stack.url + query, **connect)
    data = await asyncio.wait_for(errors.get(), 5)
    await client.close()
    return data["message"], data.get("data")


def token(claims: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


@pytest.mark.parametrize(
    ("connect", "code"),
    [
        ({}, "auth_missing"),
        ({"auth": {"token": ""}}, "auth_missing"),
        ({"auth": {"deviceId": "phone"}}, "auth_missing"),
        ({"auth": {"token": "not-a-jwt"}}, "auth_invalid"),
        ({"auth": {"token": 42}}, "auth_invalid"),
        ({"headers": {"Authorization": "Basic abc"}}, "auth_missing"),
        (
            {
                "auth": {
                    "token": token({"sub": "u", "exp": int(time.time()) + 60}, "wrong-secret-wrong-secret")
                }
            },
            "auth_invalid",
        ),
        ({"auth": {"token": token({"sub": "u"})}}, "auth_invalid"),
        ({"auth": {"token": token({"exp": int(time.time()) + 60})}}, "auth_invalid"),
        ({"auth": {"token": token({"sub": "u", "exp": int(time.time()) - 10})}}, "auth_expired"),
    ],
    ids=[
        "nothing",
        "empty",
        "no-token",
        "garbage",
        "number",
        "basic",
        "bad-signature",
        "no-exp",
        "no-sub",
        "expired",
    ],
)
async def test_refused_connections_say_why(stack: Stack, connect: dict[str, Any], code: str) -> None:
    message, data = await refusal(stack, **connect)

    assert message == code
    assert data["code"] == code
    assert isinstance(data["message"], str) and data["message"]


async def test_an_unsigned_token_is_refused(stack: Stack) -> None:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    forged = (
        f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': 'mallory', 'exp': int(time.time()) + 60})}."
    )

    message, _ = await refusal(stack, auth={"token": forged})

    assert message == "auth_invalid"


async def test_the_token_is_never_read_from_the_query_string(stack: Stack) -> None:
    message, _ = await refusal(stack, query=f"?token={stack.token('eve')}")

    assert message == "auth_missing"


async def test_bearer_header_works_and_the_auth_payload_wins(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob = user("alice"), user("bob")
    conversation = await stack.conversation(alice)

    by_header = await stack.socket(headers={"Authorization": f"Bearer {stack.token(alice)}"})
    both = await stack.socket(
        auth={"token": stack.token(bob)}, headers={"Authorization": f"Bearer {stack.token(alice)}"}
    )

    assert (await by_header.call("messages:sync", {"conversationId": conversation}))["ok"] is True
    refused = await both.call("messages:sync", {"conversationId": conversation})
    assert refused["error"]["code"] == "forbidden"  # it is bob, whose token came in `auth`


async def test_a_connection_ends_when_its_token_expires(stack: Stack, user: Callable[[str], str]) -> None:
    expires_at = int(time.time()) + 2
    client = SocketClient(reconnection=False)
    stack.clients.append(client)
    await client.connect(stack.url, token=token({"sub": user("alice"), "exp": expires_at}))

    assert await client.next("auth:expired", wait_s=6) == {}
    reason = await asyncio.wait_for(client.disconnects.get(), 5)

    assert time.time() <= expires_at + 2
    assert reason == "server disconnect"


async def test_expiry_waits_for_exp_plus_leeway_by_the_clock() -> None:
    now = 1_000.0
    expiry = TokenExpiry(leeway_s=5, clock=lambda: now)

    assert expiry.delay_until_expiry(1_010.0) == 15.0
    assert expiry.delay_until_expiry(990.0) == 0.0  # already past: at once
    fired = asyncio.Event()

    async def expire() -> None:
        fired.set()

    handle = expiry.schedule(994.0, expire)  # 994 + 5 < now: due immediately
    await asyncio.wait_for(fired.wait(), 1)
    handle.cancel()
