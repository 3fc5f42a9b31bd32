"""What an id may be: the one rule for every id a client or a token hands in.

Ids are opaque strings (PROTOCOL §4): conversation ids, user ids (JWT ``sub``,
``memberIds``) and ``clientMessageId`` are compared and stored, never interpreted. They
may be any text of 1 to ``MAX_ID_CHARS`` characters except control characters (C0, DEL,
C1), lone UTF-16 surrogates, and invisible format characters (Unicode category Cf: bidi
overrides and isolates, zero-width spaces and joiners, the BOM, soft hyphens) and line or
paragraph separators. PostgreSQL cannot store a NUL or a surrogate at all; a newline or an
escape sequence in an id is garbage in every log line and UI that shows it; and
``alice\u200b`` or ``alice\u202e`` would be a second user who looks exactly like alice.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_ID_CHARS = 200
_UNFIT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


# Categories of characters no id may hold (Cc and Cs are caught by _UNFIT already).
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Zl", "Zp"})


def unfit_characters(value: str) -> bool:
    """True when ``value`` holds a control, format or separator character, or a lone surrogate."""
    if _UNFIT.search(value) is not None:
        return True
    # ASCII has no format characters: the common case (UUIDs, names) is one C-level test.
    return not value.isascii() and any(unicodedata.category(c) in _INVISIBLE_CATEGORIES for c in value)


def has_surrogates(value: str) -> bool:
    """True for a lone UTF-16 surrogate (a JS string cut inside an emoji): not text, it
    cannot be encoded as UTF-8, stored or sent on."""
    return _SURROGATE.search(value) is not None


def check_id(value: str) -> str:
    """``value`` itself, or ValueError naming what is wrong (used by the wire models)."""
    if unfit_characters(value):
        raise ValueError("must not contain control or invisible format characters, or lone surrogates")
    return value


def is_valid_id(value: object, *, max_chars: int = MAX_ID_CHARS) -> bool:
    return isinstance(value, str) and 0 < len(value) <= max_chars and not unfit_characters(value)


def path_segment(value: str) -> str:
    """``value`` as one URL path segment, everything encoded (dots too), so that no id from
    a client can climb out of its segment into another route, whoever decodes the path."""
    return quote(value, safe="").replace(".", "%2E")
