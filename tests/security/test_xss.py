"""XSS (PROTOCOL §4.2, REQUIREMENTS 3.4.3): a corpus of known payloads, sent over the socket
and over HTTP, as bodies and as titles, is stored and returned harmless and whole, and the same
everywhere: the send's answer, what a member receives live, what sync returns, what is stored.

Harmless is §4.2's guarantee: no raw ``<`` or ``>`` is stored or returned, so an HTML parser
fed the text as it is sees no tag, comment, doctype or processing instruction (checked by
Python's own tokenizer, tests/common/test_sanitize.py::assert_stored_form). Whole: decoding the
three entities gives back exactly the normalized payload, so nothing the user typed is lost.
The sanitizer itself is property-tested there; this module proves the services apply it, once,
on every path. Ids (``memberIds``, ``sub``, ``clientMessageId``) are opaque and returned as
given: clients render every field as text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from parley_common.sanitize import normalize_text, sanitize_text, unescape_text
from tests.common.test_sanitize import assert_stored_form
from tests.gateway.conftest import Stack, message_payload
from tests.security.conftest import assert_nothing_stored_is_garbage, secured

pytestmark = pytest.mark.asyncio(loop_scope="module")

# OWASP's XSS filter evasion cheat sheet and friends, plus unicode and control tricks.
CORPUS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.test/xss.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>script>alert(1)<</script>/script>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    '<img src="jav&#x09;ascript:alert(1)">',
    "<img src=`javascript:alert(1)`>",
    '<a href="javascript:alert(1)">click</a>',
    "<a href='&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)'>x</a>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg/onload=alert(1)//",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<body onload=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<iframe srcdoc='<script>alert(1)</script>'>",
    "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<marquee onstart=alert(1)>",
    '<div style="background:url(javascript:alert(1))">',
    "<style>@import 'https://evil.test/x.css';</style>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    "<base href=https://evil.test/>",
    "<form action=javascript:alert(1)><button>go",
    "<!--<img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<?xml version='1.0'?><x/>",
    "<!DOCTYPE html><p>",
    "</textarea><script>alert(1)</script>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&amp;lt;img src=x onerror=alert(1)&amp;gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "&#x3C;svg onload=alert(1)&#x3E;",
    "%3Cscript%3Ealert(1)%3C/script%3E",
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",
    "<scr\x00ipt>alert(1)</script>",
    "<\x00script>alert(1)</script>",
    "<scr\u200bipt>alert(1)</scr\u200bipt>",
    "<\u200bscript>alert(1)",
    "\ufeff<script>alert(1)</script>",
    "<script\x0c>alert(1)</script>",
    "<a\nhref=javascript:alert(1)>x</a>",
    "<\u017fcript>alert(1)</\u017fcript>",  # long s, which uppercases to S
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",  # full-width brackets
    "<é onclick=alert(1)>",
    "<\u0130mg src=x onerror=alert(1)>",
    "\u202e<script>alert(1)</script>",
    "javascript:alert(document.cookie)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "a < b && c > d, <3, AT&T",
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(postgres_url: str) -> AsyncIterator[Stack]:
    async with secured(postgres_url) as running:
        yield running


def assert_harmless_and_whole(stored: str, payload: str) -> None:
    assert_stored_form(stored)
    assert stored == sanitize_text(payload)
    assert unescape_text(stored) == normalize_text(payload)


@pytest.mark.parametrize("payload", CORPUS)
async def test_bodies_are_stored_and_returned_harmless_and_whole(
    stack: Stack, user: Callable[[str], str], postgres_url: str, payload: str
) -> None:
    alice, bob = user("alice"), user("bob")
    conversation = await stack.conversation(alice, bob)
    receiver = await stack.joined(bob, conversation)
    sender = await stack.socket(alice)

    by_socket = await sender.call("message:send", message_payload(conversation, payload))
    over_http = await stack.http.post(
        f"/api/conversations/{conversation}/messages",
        json=message_payload(conversation, payload),
        headers=stack.auth(alice),
    )

    assert by_socket["ok"] is True and over_http.status_code == 201, (by_socket, over_http.text)
    answers: list[dict[str, Any]] = [by_socket["message"], over_http.json()["message"]]
    live = [(await receiver.next("message:new"))["message"] for _ in answers]
    synced = (await receiver.call("messages:sync", {"conversationId": conversation}))["messages"]
    assert live == synced == answers
    for message in answers:
        assert_harmless_and_whole(message["body"], payload)
    assert await assert_nothing_stored_is_garbage(postgres_url, [conversation]) == 2


@pytest.mark.parametrize("payload", CORPUS)
async def test_titles_are_stored_and_returned_harmless_and_whole(
    stack: Stack, user: Callable[[str], str], payload: str
) -> None:
    alice = user("alice")

    created = await stack.http.post(
        "/api/conversations", json={"memberIds": [], "title": payload}, headers=stack.auth(alice)
    )
    fetched = await stack.http.get(f"/api/conversations/{created.json()['id']}", headers=stack.auth(alice))
    listed = await stack.http.get("/api/conversations", headers=stack.auth(alice))

    assert created.status_code == 201
    titles = {created.json()["title"], fetched.json()["title"], listed.json()["conversations"][0]["title"]}
    assert len(titles) == 1
    assert_harmless_and_whole(titles.pop(), payload)


async def test_answers_are_json_never_html(stack: Stack, user: Callable[[str], str]) -> None:
    """Error messages may quote what was sent (an unknown event name); they go out as JSON."""
    alice = user("alice")
    answers = [
        await stack.http.get("/api/<script>alert(1)</script>", headers=stack.auth(alice)),
        await stack.http.post("/api/conversations", content=b"<script>", headers=stack.auth(alice)),
        await stack.http.get("/api/conversations", params={"x": "<script>"}, headers=stack.auth(alice)),
    ]
    client = await stack.socket(alice)
    ack = await client.call("<script>alert(1)</script>", {})

    for answer in answers:
        assert answer.headers["content-type"].startswith("application/json"), answer.headers
    assert ack["error"]["code"] == "invalid_payload"
