"""Decoded text in the Python SDK (PROTOCOL §4.2, §6 "bodies"): the SDK's decoder and encoder
agree with the server's rule, apps get the text, and a re-sent message is its text, never its
body (which would be escaped twice)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from parley_client import MessageStatus
from parley_client.clock import FakeClock
from parley_client.conversation import Conversation
from parley_client.errors import Unavailable
from parley_client.feature_switch import FeatureSwitch
from parley_client.modes import Modes
from parley_client.outbox import Outbox
from parley_client.text import decode, encode

from parley_common.sanitize import normalize_text, sanitize_text, unescape_text
from tests.common.test_sanitize import texts
from tests.support.texts import CORPUS

TYPED = "if a<b then swap & keep &lt;tags&gt;"


@settings(max_examples=500, deadline=None)
@given(texts)
def test_the_sdk_reads_and_writes_bodies_as_the_server_does(text: str) -> None:
    assert encode(text) == sanitize_text(text)
    assert decode(sanitize_text(text)) == unescape_text(sanitize_text(text)) == normalize_text(text)


def test_every_corpus_text_decodes_to_what_was_typed() -> None:
    for text in CORPUS:
        assert decode(sanitize_text(text)) == normalize_text(text), text


class Offline:
    """A connection that never connects: the conversation works locally."""

    connected = False

    async def call(self, event: str, payload: dict[str, Any]) -> Any:
        raise AssertionError("not connected")

    async def emit(self, event: str, payload: dict[str, Any]) -> None:
        return None


def offline_conversation(outbox: Outbox) -> Conversation:
    connection: Any = Offline()
    unused: Any = None  # neither the HTTP API nor the message channel is reached
    return Conversation(
        "c1",
        user_id="alice",
        connection=connection,
        channel=connection,
        http=unused,
        switch=FeatureSwitch(Modes()),
        outbox=outbox,
        clock=FakeClock(),
    )


async def test_a_failed_message_is_sent_again_as_its_text() -> None:
    outbox = Outbox()
    conversation = offline_conversation(outbox)

    message = await conversation.send(TYPED)
    first = await outbox.next()
    assert (message.body, message.text, first.body) == (sanitize_text(TYPED), TYPED, TYPED)

    await outbox.remove(first.client_message_id)
    conversation._sent(first, Unavailable("no answer in 5 s"))
    assert message.status == MessageStatus.FAILED
    assert await conversation.retry(message) is True
    assert await conversation.retry(message) is False  # already on its way: once
    again = await outbox.next()

    assert again.client_message_id == first.client_message_id
    assert again.body == TYPED  # decoded: the server escapes it once, as the first time


async def test_a_confirmed_message_keeps_the_wire_body_and_gives_the_text() -> None:
    conversation = offline_conversation(Outbox())
    message = await conversation.send("  a<b  ")
    wire = {
        "id": "m1",
        "conversationId": "c1",
        "senderId": "alice",
        "clientMessageId": message.client_message_id,
        "body": "a&lt;b",
        "seq": 1,
        "createdAt": "2026-12-03T10:00:00.000Z",
    }
    conversation.store.confirm(message.client_message_id, wire)

    assert (message.body, message.text, message.seq) == ("a&lt;b", "a<b", 1)
    conversation.store.merge({**wire, "id": "m2", "seq": 2, "senderId": "bob", "body": "&amp;lt;"})
    assert [m.text for m in conversation.messages()] == ["a<b", "&lt;"]
