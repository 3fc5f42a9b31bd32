"""Lossless sanitizing (PROTOCOL §4.2): properties with hypothesis, then the protocol's examples.

What is checked, independently of the code under test where it can be: the stored form holds
no raw ``<`` or ``>``; Python's own HTML tokenizer, fed the stored form as it is, sees no tag,
comment or declaration and reads back exactly the normalized text (so inserting it into a page
is safe and shows what was typed); decoding gives back the normalized text; normalizing is
what §4.2 says, computed character by character.
"""

from __future__ import annotations

import html
import unicodedata
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from parley_common.sanitize import (
    escape_text,
    is_sanitized,
    normalize_text,
    sanitize_text,
    unescape_text,
)

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- strategies ----------------------------------------------------------------------

CONTROL_CHARS = [chr(c) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]]
FRAGMENTS = [
    # markup, and what looks like it
    "<b>",
    "</b>",
    "<a href='x' onclick=\"y\">",
    "<script>",
    "</script>",
    "<img src=x onerror=alert(1)>",
    "<!--",
    "-->",
    "<!DOCTYPE html>",
    "<?php",
    "<![CDATA[",
    "<",
    "<<",
    "<<a",
    "</",
    ">",
    "/>",
    "<é",
    "<½",
    # entities typed literally, also double-escaped
    "&lt;b&gt;",
    "&amp;lt;i&amp;gt;",
    "&#60;b&#62;",
    "&#x3c;",
    "&lt;",
    "&amp;",
    "&",
    "&&",
    "&nbsp;",
    "&lt",
    "&amp",
    "&#0;",
    # plain text the protocol wants kept
    "if a<b then swap",
    "Vector<int> v;",
    "a < b",
    "1 > 0",
    "AT&T",
    "<3",
    "😀",
    "👨‍👩‍👧",
    "🇫🇷",
    "שלום",
    "مرحبا",
    # white space, line ends, composition
    " ",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\u00a0",
    "\u2028",
    "\u3000",
    "\u0085",
    "e\u0301",
    "\u0301",
    "\u0338",  # composes with a preceding "<" into "≮"
    "<\u0338",
    ">\u0338",
    "\u1100\u1161\u11a8",
    "\ufeff",
    "\u200b",
    "\u202e",
]

fragments = st.sampled_from(FRAGMENTS)
pieces = st.one_of(fragments, fragments, st.sampled_from(CONTROL_CHARS), st.text(max_size=6))
texts = st.one_of(st.text(), st.lists(pieces, max_size=25).map("".join))


# ---- independent checks --------------------------------------------------------------


class _Reader(HTMLParser):
    """Python's own HTML tokenizer: records markup events and the text it would show."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(f"start {tag}")

    def handle_endtag(self, tag: str) -> None:
        self.events.append(f"end {tag}")

    def handle_comment(self, data: str) -> None:
        self.events.append("comment")

    def handle_decl(self, decl: str) -> None:
        self.events.append("decl")

    def handle_pi(self, data: str) -> None:
        self.events.append("pi")

    def unknown_decl(self, data: str) -> None:
        self.events.append("unknown decl")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read_as_html(stored: str) -> tuple[list[str], str]:
    """(markup events, text shown) when ``stored`` is inserted into HTML as it is."""
    reader = _Reader()
    reader.feed(stored)
    reader.close()
    return reader.events, "".join(reader.text)


def expected_normalized(text: str) -> str:
    """§4.2's normalization, spelled out character by character."""
    text = text.replace("\r\n", "\n")
    kept = "".join(c for c in text if not (ord(c) < 0x20 and c not in "\n\t") and not 0x7F <= ord(c) <= 0x9F)
    return unicodedata.normalize("NFC", kept).strip()


def assert_stored_form(stored: str) -> None:
    """What §4.2 promises of anything stored or returned."""
    assert "<" not in stored and ">" not in stored, stored
    assert stored.count("&") == stored.count("&amp;") + stored.count("&lt;") + stored.count("&gt;"), stored
    assert read_as_html(stored)[0] == [], stored
    assert unicodedata.is_normalized("NFC", stored), stored
    assert stored == stored.strip(), stored
    assert is_sanitized(stored), stored


# ---- properties ----------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(texts)
@example("if a<b then swap")
@example("&amp;lt;")
@example("<\u0338")
@example(" \u0301x")
@example("<\x00b>x")
def test_nothing_is_lost_and_nothing_is_markup(text: str) -> None:
    stored = sanitize_text(text)
    normalized = expected_normalized(text)

    assert normalize_text(text) == normalized
    assert unescape_text(stored) == normalized  # the SDKs' decoder
    assert html.unescape(stored) == normalized  # a browser's
    assert read_as_html(stored) == ([], normalized)
    assert_stored_form(stored)


@PROPERTY_SETTINGS
@given(texts)
def test_normalizing_is_idempotent_and_escaping_is_its_own_step(text: str) -> None:
    normalized = normalize_text(text)
    assert normalize_text(normalized) == normalized
    assert sanitize_text(text) == escape_text(normalized)
    assert len(escape_text(normalized)) >= len(normalized)


@PROPERTY_SETTINGS
@given(st.text())
def test_unescaping_inverts_escaping_for_any_text(text: str) -> None:
    assert unescape_text(escape_text(text)) == text


# ---- examples ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("if a<b then swap", "if a&lt;b then swap"),
        ("Vector<int> v;", "Vector&lt;int&gt; v;"),
        ("use <div> for layout", "use &lt;div&gt; for layout"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("AT&T", "AT&amp;T"),
        ("&lt; typed literally", "&amp;lt; typed literally"),
        ("&amp;", "&amp;amp;"),
        ("&#60;b&#62;", "&amp;#60;b&amp;#62;"),
        ("I <3 you & you <3 me", "I &lt;3 you &amp; you &lt;3 me"),
        ("a > b >= c", "a &gt; b &gt;= c"),
        ("😀👍🏽🇫🇷👨‍👩‍👧", "😀👍🏽🇫🇷👨‍👩‍👧"),
        ("שלום <עולם>", "שלום &lt;עולם&gt;"),
        ("\"quotes\" and 'apostrophes' `ticks`", "\"quotes\" and 'apostrophes' `ticks`"),
        ("line one\nline two\n\tindented", "line one\nline two\n\tindented"),
    ],
    ids=[
        "comparison",
        "generic",
        "tag-word",
        "script",
        "ampersand",
        "entity-typed",
        "amp-typed",
        "numeric-refs-typed",
        "hearts",
        "greater",
        "emoji",
        "rtl",
        "quotes-untouched",
        "multi-line",
    ],
)
def test_examples_are_kept_exactly(text: str, stored: str) -> None:
    assert sanitize_text(text) == stored
    assert unescape_text(stored) == text


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("a\r\nb", "a\nb"),
        ("a\rb", "ab"),
        ("\r\n\r\n", ""),
        ("e\u0301", "é"),
        ("A\u030a", "Å"),
        ("<\u0338", "≮"),
        ("  \t\n hi \u3000\n", "hi"),
        ("a\x00b\x1bc\x7fd\x85e\x9ff", "abcdef"),
        ("<\x00b>x", "<b>x"),
        ("e\x00\u0301", "é"),  # a control between a letter and its mark does not block NFC
        ("\u00a0", ""),
        ("\u200bzero width\ufeff", "\u200bzero width\ufeff"),  # not white space: kept
    ],
    ids=[
        "crlf",
        "lone-cr",
        "only-crlf",
        "nfc-e-acute",
        "nfc-a-ring",
        "nfc-not-less",
        "strip",
        "controls",
        "control-in-tag",
        "control-in-composition",
        "nbsp-only",
        "format-chars-kept",
    ],
)
def test_normalizing(text: str, normalized: str) -> None:
    assert normalize_text(text) == normalized
    assert sanitize_text(text) == escape_text(normalized)


@pytest.mark.parametrize(
    ("stored", "decoded"),
    [
        ("&amp;lt;", "&lt;"),
        ("&lt;&gt;&amp;", "<>&"),
        ("&nbsp;&quot;&#60;", "&nbsp;&quot;&#60;"),  # only the three entities of §4.2
        ("&amp", "&amp"),
        ("&ltx", "&ltx"),
        ("no entity", "no entity"),
    ],
)
def test_decoding_only_the_three_entities(stored: str, decoded: str) -> None:
    assert unescape_text(stored) == decoded


@pytest.mark.parametrize("stored", ["a<b", "a>b", "AT&T", "&amp", " x", "e\u0301", "a\x00"])
def test_what_is_not_a_stored_form(stored: str) -> None:
    assert not is_sanitized(stored)
