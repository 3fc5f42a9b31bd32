"""Message bodies and conversation titles (PROTOCOL §4.2, revised 2026-12-03): lossless.

Policy: the text is first normalized: control characters are deleted (C0 except ``\\n`` and
``\\t``, DEL, C1; ``\\r\\n`` becomes ``\\n`` and a lone ``\\r`` is deleted), then it is NFC
normalized and trimmed of leading and trailing white space. Limits (1..4000 code points for
a body, at most 200 for a title) count the normalized text. It is then escaped: exactly
``&``, ``<`` and ``>`` become ``&amp;``, ``&lt;`` and ``&gt;``; nothing else changes and
nothing is removed. So what is stored and returned holds no raw ``<`` or ``>`` (no markup any
HTML parser would act on) and :func:`unescape_text` gives back the normalized text exactly.

Escaping is not idempotent (``&amp;`` escapes to ``&amp;amp;``): it is done once, where a
text enters the system (the wire models), and clients decode before sending a text again.
"""

from __future__ import annotations

import re
import unicodedata

MAX_BODY_CHARS = 4000
MAX_TITLE_CHARS = 200

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}
_ENTITY = re.compile("&(?:amp|lt|gt);")


def normalize_text(text: str) -> str:
    """Controls deleted (``\\r\\n`` → ``\\n`` first), NFC, trimmed: the text that is counted."""
    # Controls go before NFC: one between a letter and a combining mark would block composition.
    text = _CONTROLS.sub("", text.replace("\r\n", "\n"))
    return unicodedata.normalize("NFC", text).strip()


def escape_text(text: str) -> str:
    """``&``, ``<``, ``>`` as HTML entities, and nothing else (``&`` first, so once each)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape_text(escaped: str) -> str:
    """The inverse of :func:`escape_text`: only ``&amp;``, ``&lt;``, ``&gt;`` are decoded, in
    one pass, so ``&amp;lt;`` gives ``&lt;`` (what was typed), never ``<``."""
    if "&" not in escaped:
        return escaped
    return _ENTITY.sub(lambda entity: _ENTITIES[entity.group()], escaped)


def sanitize_text(text: str) -> str:
    """The stored form of a text as typed: normalized, then escaped."""
    return escape_text(normalize_text(text))


def is_sanitized(stored: str) -> bool:
    """Whether ``stored`` is what :func:`sanitize_text` makes of some text (escaped exactly once,
    normalized): no raw ``<`` or ``>``, every ``&`` starts one of the three entities."""
    return sanitize_text(unescape_text(stored)) == stored
