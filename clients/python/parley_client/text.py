"""Message text (PROTOCOL §4.2): the server stores and sends bodies escaped, apps get them decoded.

On the wire a body is the typed text, normalized, with exactly ``&``, ``<``, ``>`` written as
``&amp;``, ``&lt;``, ``&gt;``. :func:`decode` gives back the text (one pass: ``&amp;lt;`` is
``&lt;``, what was typed); :func:`encode` makes the wire form of a text as the server would, for
the optimistic copy of a message being sent. Send and forward the decoded text, never a body.
"""

from __future__ import annotations

import re
import unicodedata

_ENTITY = re.compile("&(?:amp|lt|gt);")
_DECODED = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def decode(body: str) -> str:
    """The text of a body as the server sent it."""
    if "&" not in body:
        return body
    return _ENTITY.sub(lambda entity: _DECODED[entity.group()], body)


def normalize(text: str) -> str:
    """What the server keeps of a typed text: controls deleted, NFC, trimmed."""
    return unicodedata.normalize("NFC", _CONTROLS.sub("", text.replace("\r\n", "\n"))).strip()


def encode(text: str) -> str:
    """The body the server will store for ``text``."""
    return normalize(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
