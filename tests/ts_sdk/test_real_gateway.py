"""The TypeScript SDK's timing rules (PROTOCOL §1, §6) against a real gateway, not the in-memory
fake of its own suite: Node runs the built SDK (clients/ts/dist, `make ts-test` builds it) with
the stock socket.io-client, through the test proxy. A black-holed link (nothing closed, nothing
delivered) is noticed in under 5 s by Engine.IO's pings; the client reconnects by itself, catches
up what was sent meanwhile and sends, once, what was typed while offline. Texts come back decoded
exactly as typed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from parley_common.sanitize import normalize_text
from tests.gateway.conftest import Stack, stack, user
from tests.support.faulty_proxy import proxy_to
from tests.support.texts import CORPUS
from tests.ts_sdk.node_client import node_client, texts

__all__ = ["stack", "user"]
pytestmark = pytest.mark.timeout(90)

NOTICED_WITHIN_S = 5.0  # PROTOCOL §1: a dead link is noticed in under 5 seconds
SAMPLE = CORPUS[::6]  # ~40 texts of every kind (sends are limited to 10 a second)


async def test_a_black_holed_link_is_noticed_then_the_client_reconnects_and_catches_up(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob, conversation_id = await stack.pair(user)
    token = stack.token(alice)
    async with proxy_to(stack.url) as (proxy, behind), node_client(behind, token, conversation_id) as app:
        await app.until(lambda c: c.state == "connected")
        await stack.post_message(bob, conversation_id, "before")
        await app.until(lambda c: texts(c) == ["before"])

        proxy.blackhole()  # nothing is closed: only the pings can tell
        cut_at = time.monotonic()
        await app.until(lambda c: c.state == "disconnected", wait_s=15)
        noticed_s = time.monotonic() - cut_at
        proxy.heal()  # new connections pass; the black-holed one stays dead

        await app.send("typed while offline: a<b")
        missed = [await stack.post_message(bob, conversation_id, f"missed {n} & <{n}>") for n in range(3)]
        await app.until(lambda c: c.state == "connected", wait_s=15)
        await app.until(lambda c: len(c.messages) == 5 and all(m["seq"] for m in c.messages))

    assert noticed_s < NOTICED_WITHIN_S, noticed_s
    assert [m["seq"] for m in app.messages] == [1, 2, 3, 4, 5]
    assert sorted(texts(app)[1:]) == sorted(
        [f"missed {n} & <{n}>" for n in range(3)] + ["typed while offline: a<b"]
    )
    assert [m["body"] for m in missed] == [f"missed {n} &amp; &lt;{n}&gt;" for n in range(3)]
    history = await stack.http.get(f"/api/conversations/{conversation_id}/messages", headers=stack.auth(bob))
    stored = [m["body"] for m in history.json()["messages"]]
    assert stored.count("typed while offline: a&lt;b") == 1  # sent once


async def test_texts_sent_by_the_sdk_come_back_decoded_as_typed(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice, bob, conversation_id = await stack.pair(user)
    async with node_client(stack.url, stack.token(alice), conversation_id) as app:
        await app.until(lambda c: c.state == "connected")
        for text in SAMPLE:
            await app.send(text)
        expected = [normalize_text(text) for text in SAMPLE]
        await app.until(lambda c: len(c.messages) == len(SAMPLE) and all(m["seq"] for m in c.messages), 60)
        history = await stack.http.get(
            f"/api/conversations/{conversation_id}/messages", headers=stack.auth(bob)
        )

    assert texts(app) == expected  # in the SDK, confirmed by the server
    assert [m["body"] for m in history.json()["messages"]] == [m["body"] for m in app.messages]
