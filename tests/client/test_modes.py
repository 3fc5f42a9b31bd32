"""PROTOCOL §7 against the embedded default: each feature over Socket.IO or HTTP polling,
capped by the server's client config, on the same store, statuses and receipts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from parley_client import AuthError, ConnectionState, ParleyClient
from parley_client.clock import FakeClock
from parley_client.modes import HTTP_ONLY, Modes, ServerConfig

from parley_common.auth import mint_token
from parley_common.event_limits import EventLimit
from parley_launcher.compose import EmbeddedSettings
from parley_messages.config import MessagesSettings
from parley_presence.config import PresenceSettings
from tests.client.conftest import all_hold, all_read, until
from tests.gateway.conftest import common_settings, gateway_settings
from tests.support.front import Front, embedded, serving_front
from tests.support.ports import free_port
from tests.support.servers import uvicorn_serving

User = Callable[[str], str]
MIXED = Modes(messages="http", typing="socket", presence="socket")
POLL_MS = 100


def settings_of(postgres_url: str, **client_config: Any) -> EmbeddedSettings:
    """The embedded default with the operator's client config (and room for fast polling:
    each polled conversation is two reads per interval)."""
    reads = EventLimit(rate=500, burst=500)
    client_config.setdefault("client_http_poll_interval_ms", POLL_MS)
    return EmbeddedSettings(
        messages=MessagesSettings(**common_settings(database_url=postgres_url, **client_config)),
        gateway=gateway_settings(rate_limit_sync=reads),
        presence=PresenceSettings(**common_settings()),
    )


@asynccontextmanager
async def client(
    url: str, settings: EmbeddedSettings, user_id: str, **options: Any
) -> AsyncIterator[ParleyClient]:
    async def token() -> str:
        return mint_token(settings.gateway, user_id)[0]

    sdk = ParleyClient(url, token_provider=token, **options)
    await sdk.start()
    try:
        yield sdk
    finally:
        await sdk.close()


async def conversation_of(url: str, settings: EmbeddedSettings, owner: str, *others: str) -> str:
    token, _ = mint_token(settings.gateway, owner)
    async with httpx.AsyncClient(base_url=url) as http:
        answer = await http.post(
            "/api/conversations",
            json={"memberIds": list(others)},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 201, answer.text
    conversation_id: str = answer.json()["id"]
    return conversation_id


async def test_http_socket_and_mixed_clients_share_a_conversation(postgres_url: str, user: User) -> None:
    settings = settings_of(postgres_url)
    async with serving_front(settings) as (url, front):
        polling, socket, mixed = user("polling"), user("socket"), user("mixed")
        conversation_id = await conversation_of(url, settings, polling, socket, mixed)
        async with (
            client(url, settings, polling, modes=HTTP_ONLY) as polling_client,
            client(url, settings, socket) as socket_client,
            client(url, settings, mixed, modes=MIXED) as mixed_client,
        ):
            assert polling_client.modes == HTTP_ONLY and mixed_client.modes == MIXED
            assert socket_client.modes == Modes()
            await asyncio.gather(socket_client.wait_connected(), mixed_client.wait_connected())
            await polling_client.wait_connected()  # over HTTP alone: the API answers
            assert polling_client.transport is None  # never a socket
            chats = [await c.open(conversation_id) for c in (polling_client, socket_client, mixed_client)]

            for n in range(3):
                for chat in chats:
                    await chat.send(f"{chat.user_id} #{n}")
            await all_hold(chats, 9)
            await all_read(chats)

            # Typing goes to whoever has it on; presence reaches the poller by polling.
            chats[1].keystroke()
            await until(chats[2], lambda c: socket in c.typing.typing_users)
            assert chats[0].typing.typing_users == set()
            await until(chats[0], lambda c: c.members[socket].online and c.members[mixed].online)
            assert not chats[1].members[polling].online  # presence is made by sockets: a poller is offline

    sent_over_http = front.count("POST", f"/api/conversations/{conversation_id}/messages")
    assert sent_over_http == 6  # the poller's and the mixed client's, each once: none doubled


async def test_the_servers_config_is_a_ceiling(postgres_url: str, user: User) -> None:
    settings = settings_of(postgres_url, client_messages="http", client_typing="off")
    async with serving_front(settings) as (url, front):
        alice, bob = user("alice"), user("bob")
        conversation_id = await conversation_of(url, settings, alice, bob)
        async with client(url, settings, alice) as alice_client, client(url, settings, bob) as bob_client:
            await alice_client.wait_connected()
            assert alice_client.modes == Modes(messages="http", typing="off", presence="socket")
            assert alice_client.server_config.poll_interval_s == POLL_MS / 1000
            assert alice_client.transport is not None  # presence still goes over the socket
            mine, theirs = await alice_client.open(conversation_id), await bob_client.open(conversation_id)
            mine.keystroke()  # typing is off: nothing is sent
            await mine.send("over http, as the operator says")
            await theirs.send("and back")
            await all_hold([mine, theirs], 2)
            await all_read([mine, theirs])
            await until(mine, lambda c: c.members[bob].online)  # presence by socket events

    assert front.count("POST", f"/api/conversations/{conversation_id}/messages") == 2
    assert front.count("GET", f"/api/conversations/{conversation_id}/messages") >= 2  # polled


async def test_a_client_whose_socket_is_blocked_keeps_working_over_http(
    postgres_url: str, user: User
) -> None:
    settings = settings_of(postgres_url)
    blocked_port, open_port = free_port(), free_port()
    async with embedded(settings) as app:
        blocked, unblocked = Front(app), Front(app)
        blocked.block_socketio = True
        async with (
            uvicorn_serving(blocked, blocked_port),
            uvicorn_serving(unblocked, open_port),
        ):
            blocked_url, open_url = f"http://127.0.0.1:{blocked_port}", f"http://127.0.0.1:{open_port}"
            alice, bob = user("alice"), user("bob")
            conversation_id = await conversation_of(open_url, settings, alice, bob)
            async with (
                client(blocked_url, settings, alice) as alice_client,
                client(open_url, settings, bob) as bob_client,
            ):
                over_http = asyncio.Event()

                def went_over_http(_: ConnectionState) -> None:
                    if alice_client.modes == HTTP_ONLY:
                        over_http.set()

                alice_client.on_state_change(went_over_http)
                mine, theirs = (
                    await alice_client.open(conversation_id),
                    await bob_client.open(conversation_id),
                )
                await mine.send("behind a proxy that blocks Socket.IO")  # queued until a path works
                await asyncio.wait_for(over_http.wait(), 15)
                assert alice_client.state == ConnectionState.CONNECTED  # working, over HTTP
                await theirs.send("got it")
                await all_hold([mine, theirs], 2)
                await all_read([mine, theirs])

                blocked.block_socketio = False  # the proxy is fixed: back to the socket
                alice_client.reconnect_now()
                await until(
                    mine, lambda _: alice_client.modes == Modes() and alice_client.transport is not None
                )
                await theirs.send("and now live")
                await all_hold([mine, theirs], 3)
    assert blocked.count("POST", f"/api/conversations/{conversation_id}/messages") == 1


async def test_polls_follow_the_interval_and_the_config_is_read_every_five_minutes(
    postgres_url: str, user: User
) -> None:
    """On a fake clock: an idle polling client makes two requests per conversation per
    interval (40 a minute at the default 3 s) and reads the config again after 5 minutes,
    so an operator's change reaches it without a reconnect or a release."""
    old = settings_of(postgres_url, client_messages="http", client_typing="off", client_presence="http")
    old = EmbeddedSettings(
        messages=old.messages.model_copy(update={"client_http_poll_interval_ms": 3000}),
        gateway=old.gateway,
        presence=old.presence,
    )
    new = EmbeddedSettings(
        messages=settings_of(postgres_url).messages, gateway=old.gateway, presence=old.presence
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    clock = FakeClock()
    async with embedded(old) as old_app, embedded(new) as new_app:
        front = Front(old_app)
        async with uvicorn_serving(front, port):
            alice, bob = user("alice"), user("bob")
            conversation_id = await conversation_of(url, old, alice, bob)
            async with client(url, old, alice, clock=clock) as idle:  # the app asks for sockets
                assert idle.modes == HTTP_ONLY  # the server's ceiling
                await idle.open(conversation_id)
                # Counted from a round's end: a round the client started by itself (at its
                # start, or on a change of modes) could still be under way here; it was then
                # taken for one of the minute's 20, and the last one counted before it had
                # made its requests (38 == 40).
                await idle.poller.wait_between_rounds()
                polls_before = front.count("GET", f"/api/conversations/{conversation_id}")
                rounds = idle.poller.rounds
                for minute_step in range(20):  # one minute of 3 s intervals
                    await clock.advance(3.0)
                    await idle.poller.wait_rounds(rounds + minute_step + 1)
                polls = front.count("GET", f"/api/conversations/{conversation_id}") - polls_before
                assert polls == 40  # GET …/messages and GET …/{id}, 20 times each
                assert idle.poller.rounds == rounds + 20  # one round per interval, none more
                assert front.count("GET", "/api/client-config") == 1
                assert idle.transport is None

                front.backend = new_app  # the operator allows sockets: a rolling update
                await clock.advance(300 - 60 - 1)
                assert front.count("GET", "/api/client-config") == 1
                await clock.advance(1)
                chat = await idle.open(conversation_id)
                await until(chat, lambda _: idle.modes == Modes() and idle.transport is not None)
                # Read after 5 minutes, then once more on connecting (after every reconnect).
                await asyncio.wait_for(front.reached("GET", "/api/client-config", 3), 10)
                assert front.count("GET", "/api/client-config") == 3


def test_the_server_caps_each_feature_and_unknown_values_never_turn_one_on() -> None:
    wanted = Modes(messages="socket", typing="socket", presence="http")
    assert wanted.capped_by(Modes(messages="http")) == Modes(
        messages="http", typing="socket", presence="http"
    )
    assert wanted.capped_by(HTTP_ONLY) == HTTP_ONLY
    assert HTTP_ONLY.capped_by(Modes()) == HTTP_ONLY  # the app's choice holds under an open ceiling
    newer = {"features": {"messages": "quic", "typing": "socket"}, "httpPollIntervalMs": "soon"}
    config = ServerConfig.from_wire(newer)
    assert config.features == Modes(messages="http", typing="socket", presence="socket")
    assert config.poll_interval_s == 3.0
    with pytest.raises(ValueError, match="typing"):
        Modes(typing="http")  # type: ignore[arg-type]


async def test_a_polling_client_surfaces_a_refused_token_with_its_code(postgres_url: str, user: User) -> None:
    settings = settings_of(postgres_url)
    async with serving_front(settings) as (url, _):

        async def expired() -> str:
            return mint_token(settings.gateway, user("alice"), ttl_s=-1)[0]

        sdk = ParleyClient(url, token_provider=expired, modes=HTTP_ONLY)
        await sdk.start()
        try:
            with pytest.raises(AuthError) as refused:
                await asyncio.wait_for(sdk.wait_connected(), 10)  # never an endless "connecting"
            assert refused.value.code == "auth_expired"
            assert sdk.state == ConnectionState.UNAUTHORIZED
            assert sdk.auth_error is not None and sdk.auth_error.code == "auth_expired"
        finally:
            await sdk.close()
