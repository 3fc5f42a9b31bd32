"""Message body sanitizing (PROTOCOL §4.2).

Policy: bodies are plain text that clients render as text. What is stored and returned
holds no tag an HTML parser would act on (no ``<`` followed by a letter, ``/``, ``!`` or
``?``), no control characters (C0 except ``\\n`` and ``\\t``, DEL, C1; ``\\r\\n`` becomes
``\\n`` and a lone ``\\r`` is deleted), is NFC normalized and trimmed of leading and
trailing white space. Sanitizing twice changes nothing.

Text without markup is left alone apart from that, so ``a < b``, ``AT&T`` and ``<3``
survive exactly as typed. Text with markup goes through nh3 (ammonia), a real HTML
sanitizer, with no tag allowed; its entity-escaped output is unescaped back to plain text,
which can reveal new markup (``&lt;b&gt;``), so the steps repeat until nothing changes.
"letter" is read as any Unicode letter, a superset of the ASCII letters that start an
HTML tag, so the guarantee holds for the stricter reading too.
"""

from __future__ import annotations

import html
import re
import sys
import unicodedata

import nh3

MAX_BODY_CHARS = 4000

# [^\W\d_] also matches numerals that are not letters (categories No, Nl: "½", "²", "Ⅻ").
_NUMERALS = "".join(
    re.escape(c)
    for c in map(chr, range(sys.maxunicode + 1))
    if c.isnumeric() and unicodedata.category(c) in ("No", "Nl")
)
# A "<" that an HTML tokenizer would treat as the start of a tag, end tag, comment,
# doctype or processing instruction; (?![numerals])[^\W\d_] is "any Unicode letter".
MARKUP_START = re.compile(rf"<(?=[/!?]|(?![{_NUMERALS}])[^\W\d_])")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MAX_PASSES = 8


def has_markup(text: str) -> bool:
    return MARKUP_START.search(text) is not None


def _strip_controls(text: str) -> str:
    return _CONTROLS.sub("", text.replace("\r\n", "\n"))


def _strip_markup(text: str) -> str:
    if not has_markup(text):
        return text
    return html.unescape(nh3.clean(text, tags=set(), attributes={}, strip_comments=True))


def _one_pass(text: str) -> str:
    text = _strip_controls(text)
    text = _strip_markup(text)
    text = _strip_controls(text)
    return unicodedata.normalize("NFC", text).strip()


def _drop_markup_starts(text: str) -> str:
    # Deleting a "<" can put an earlier "<" next to a letter ("<<a"), hence the loop;
    # every round deletes at least one character, so it ends.
    while has_markup(text):
        text = MARKUP_START.sub("", text)
    return text


def sanitize_body(text: str) -> str:
    """Return ``text`` as safe plain text (see the module docstring for the rules)."""
    for _ in range(_MAX_PASSES):
        cleaned = _one_pass(text)
        if cleaned == text:
            break
        text = cleaned
    # Pathological nesting of escaped markup, or a "<" before a letter that HTML does not
    # treat as a tag ("<é": only ASCII letters open one, so nh3 keeps it): remove the tag
    # openers. A no-op for text that is already clean.
    while True:
        cleaned = _one_pass(_drop_markup_starts(text))
        if cleaned == text:
            return cleaned
        text = cleaned
