"""sanitize_body (PROTOCOL §4.2): properties with hypothesis, then the protocol's examples."""

from __future__ import annotations

import html
import unicodedata
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from parley_common.sanitize import MARKUP_START, has_markup, sanitize_body

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- strategies ----------------------------------------------------------------------

CONTROL_CHARS = [chr(c) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]]
FRAGMENTS = [
    # markup
    "<b>",
    "</b>",
    "<i>",
    "<a href='x' onclick=\"y\">",
    "</a>",
    "<script>",
    "</script>",
    "<style>",
    "</style>",
    "<img src=x onerror=alert(1)>",
    "<br/>",
    "<!--",
    "-->",
    "<!-- c -->",
    "<!DOCTYPE html>",
    "<?php",
    "?>",
    "<![CDATA[",
    "]]>",
    "<textarea>",
    "<title>",
    "<svg><g/></svg>",
    "</ b>",
    "< b>",
    "<",
    "<<",
    "<<a",
    "<<<b>",
    "</",
    "<!",
    "<?",
    ">",
    "/>",
    "=",
    '"',
    "'",
    # non-ASCII letters and numerals after "<"
    "<é",
    "<я",
    "<中",
    "<ǅ",
    "<ª",
    "<½",
    "<²",
    "<Ⅻ",
    "<①",
    "<٣",
    "<_",
    # entities, also double-escaped
    "&lt;b&gt;",
    "&lt;/b&gt;",
    "&amp;lt;i&amp;gt;",
    "&#60;b&#62;",
    "&#x3c;script&#x3e;",
    "&lt;",
    "&amp;",
    "&",
    "&nbsp;",
    "&#0;",
    "&#x85;",
    "&#13;",
    # plain text the protocol wants kept
    "a < b",
    "1 > 0",
    "AT&T",
    "<3",
    "I <3 u",
    "😀",
    "👨‍👩‍👧",
    "🇫🇷",
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
    "\u0338",
    "\u1100\u1161\u11a8",
    "A\u030a",
    "\ufeff",
    "\u200b",
]

fragments = st.sampled_from(FRAGMENTS)
controls = st.sampled_from(CONTROL_CHARS)
letters = st.characters(categories=["L"])


@st.composite
def escaped(draw: st.DrawFn, inner: st.SearchStrategy[str]) -> str:
    """``inner`` html-escaped 0-3 times ("<b>" -> "&lt;b&gt;" -> "&amp;lt;b&amp;gt;" ...)."""
    text = draw(inner)
    for _ in range(draw(st.integers(0, 3))):
        text = html.escape(text)
    return text


pieces = st.one_of(
    fragments,
    fragments,
    controls,
    letters,
    st.text(max_size=6),
    st.builds(
        lambda tag, body: f"<{tag}>{body}</{tag}>", st.sampled_from(["b", "p", "x", "é"]), st.text(max_size=4)
    ),
)
mixed = st.lists(pieces, max_size=25).map("".join)
markupish = st.one_of(
    mixed, escaped(mixed), st.lists(st.one_of(pieces, escaped(pieces)), max_size=20).map("".join)
)
bodies = st.one_of(st.text(), markupish, markupish)


# ---- independent checks --------------------------------------------------------------


class _TagRecorder(HTMLParser):
    """Python's own HTML tokenizer: records everything it would treat as markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[str] = []

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


def html_events(text: str) -> list[str]:
    parser = _TagRecorder()
    parser.feed(text)
    parser.close()
    return parser.events


def markup_starts(text: str) -> list[str]:
    """Every "<" + next char where the next char is a Unicode letter (category L*), "/", "!", "?"."""
    return [
        text[i : i + 2]
        for i, char in enumerate(text[:-1])
        if char == "<" and (unicodedata.category(text[i + 1]).startswith("L") or text[i + 1] in "/!?")
    ]


def forbidden_controls(text: str) -> list[str]:
    return [char for char in text if (ord(char) < 0x20 and char not in "\n\t") or 0x7F <= ord(char) <= 0x9F]


def assert_clean(out: str) -> None:
    assert MARKUP_START.search(out) is None, out
    assert markup_starts(out) == [], out
    assert html_events(out) == [], out
    assert forbidden_controls(out) == [], out
    assert "\r" not in out
    assert unicodedata.is_normalized("NFC", out), out
    assert out == out.strip(), out


# ---- properties ----------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(bodies)
@example("<<a")
@example("x <é y")
@example("&lt;é&gt;<b>")
@example("&amp;lt;b&amp;gt;<i>x</i>")
@example("<\x00b>x")
@example("<\r\nb>")
@example(" \u0301x")
def test_output_is_clean_and_a_fixed_point(text: str) -> None:
    out = sanitize_body(text)
    assert_clean(out)
    assert sanitize_body(out) == out


def _is_plain(text: str) -> bool:
    return not has_markup(text) and not markup_starts(text)


# Text with no markup start: only "<" + non-letter ever appears; no controls, NFC, stripped.
plain_pieces = st.one_of(
    st.text(st.characters(blacklist_characters="<", blacklist_categories=["Cc"]), max_size=8),
    st.sampled_from(
        [
            "<3",
            "< ",
            "<=",
            "<>",
            "<<3",
            "<½",
            "<²",
            "<_",
            "<-",
            "<.",
            "a < b",
            "1 > 0",
            "AT&T",
            "&lt;b&gt;",
            "&amp;",
            "😀",
            "\n",
            "\t",
            "e\u0301",
        ]
    ),
)
plain_texts = (
    st.lists(plain_pieces, max_size=12)
    .map("".join)
    .map(lambda text: unicodedata.normalize("NFC", text).strip())
    .filter(lambda text: _is_plain(text) and unicodedata.is_normalized("NFC", text))
)


@PROPERTY_SETTINGS
@given(plain_texts)
def test_plain_text_passes_unchanged(text: str) -> None:
    assert sanitize_body(text) == text


@PROPERTY_SETTINGS
@given(st.text(st.characters(blacklist_characters="<&"), max_size=40))
def test_text_without_lt_or_amp_only_loses_controls_and_outer_space(text: str) -> None:
    expected = text.replace("\r\n", "\n")
    expected = "".join(char for char in expected if char not in forbidden_controls(char) and char != "\r")
    assert sanitize_body(text) == unicodedata.normalize("NFC", expected).strip()


# ---- examples ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a < b",
        "1 > 0",
        "AT&T",
        "<3",
        "I <3 you & you <3 me",
        "3 <= 4 <> 5, x<-y",
        "&lt;b&gt; means bold",  # entities without markup are kept as typed
        "😀👍🏽🇫🇷👨‍👩‍👧",
        "line one\nline two\n\tindented\tand\ttabbed",
        "½ <½ cup <² <Ⅻ",  # numerals are not letters
        "こんにちは、世界",
    ],
    ids=[
        "lt-space",
        "gt",
        "ampersand",
        "heart",
        "hearts-and-amp",
        "comparisons",
        "entities",
        "emoji",
        "multi-line",
        "lt-numerals",
        "japanese",
    ],
)
def test_plain_text_examples_survive(text: str) -> None:
    assert sanitize_body(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<b>hi</b>", "hi"),
        ("<script>alert(1)</script>x", "x"),
        ("<style>p { color: red }</style>y", "y"),
        ("<img src=x onerror=alert(1)>z", "z"),
        ("<a href='https://x.test'>link</a> text", "link text"),
        ("<!-- hidden -->shown", "shown"),
        ("<?xml version='1.0'?>doc", "doc"),
        ("</ b>", ""),
        ("<b>AT&amp;T</b>", "AT&T"),
        ("&lt;b&gt;x&lt;/b&gt;<i>y</i>", "xy"),  # escaped markup revealed by unescaping is removed too
        ("<<a", "<"),
        ("x<y", "x"),  # "<y" opens a tag, even without a ">"
        ("x <é y", "x é y"),  # a non-ASCII letter after "<" counts as a letter
        ("a\r\nb", "a\nb"),
        ("a\rb", "ab"),
        ("\r\n\r\n", ""),
        ("e\u0301", "é"),
        ("A\u030a", "Å"),
        ("  \t\n hi \u3000\n", "hi"),
        ("a\x00b\x1bc\x7fd\x85e\x9ff", "abcdef"),
        ("<\x00b>x", "x"),  # a control between "<" and a letter does not hide the tag
        ("\u00a0", ""),
    ],
    ids=[
        "bold",
        "script",
        "style",
        "img-onerror",
        "anchor",
        "comment",
        "processing-instruction",
        "end-tag-space",
        "entity-in-markup",
        "escaped-markup",
        "lt-lt-a",
        "lt-letter",
        "lt-e-acute",
        "crlf",
        "lone-cr",
        "only-crlf",
        "nfc-e-acute",
        "nfc-a-ring",
        "strip",
        "controls",
        "control-in-tag",
        "nbsp-only",
    ],
)
def test_examples(text: str, expected: str) -> None:
    out = sanitize_body(text)
    assert out == expected
    assert_clean(out)
