"""The ``message:send`` payload, read without a model when it is well formed.

:class:`SendPayload` is the rule. :func:`read_send` checks the common case, the three
camelCase fields as plain strings that pass, with plain tests (a model per send was ~1% of
the gateway's CPU under chat load); anything else goes to the model, so every refusal, and
everything the model takes that the plain tests do not (snake_case names), is the model's.
"""

from __future__ import annotations

from typing import Any

from parley_common.ids import MAX_ID_CHARS, has_surrogates, is_valid_id
from parley_common.wire import ClientMessageId, ConversationRef, RawBody, parse_payload

# The bounds of ClientMessageId and RawBody (parley_common.wire).
_MAX_CLIENT_MESSAGE_ID_CHARS = 128
_MAX_BODY_CHARS = 64 * 1024


class SendPayload(ConversationRef):
    """``message:send``. The body is checked for shape here and sanitized once, by the
    messages service that stores it (sanitizing is the costly part; doing it twice buys nothing).
    """

    client_message_id: ClientMessageId
    body: RawBody


def read_send(payload: Any) -> tuple[str, str, str]:
    """``(conversationId, clientMessageId, body)`` as :class:`SendPayload` takes them; raises
    its :class:`~parley_common.errors.InvalidPayload` otherwise."""
    if type(payload) is dict:
        conversation_id = payload.get("conversationId")
        client_message_id = payload.get("clientMessageId")
        body = payload.get("body")
        if (
            type(conversation_id) is str
            and type(client_message_id) is str
            and type(body) is str
            and _fit_id(conversation_id, MAX_ID_CHARS)
            and _fit_id(client_message_id, _MAX_CLIENT_MESSAGE_ID_CHARS)
            and len(body) <= _MAX_BODY_CHARS
            and (body.isascii() or not has_surrogates(body))
        ):
            return conversation_id, client_message_id, body
    request = parse_payload(SendPayload, payload)
    return request.conversation_id, request.client_message_id, request.body


def _fit_id(value: str, max_chars: int) -> bool:
    """:func:`~parley_common.ids.is_valid_id`, with string methods for the common ASCII id:
    there the unfit characters are C0 and DEL, exactly what ``isprintable`` refuses."""
    if value.isascii():
        return 0 < len(value) <= max_chars and value.isprintable()
    return is_valid_id(value, max_chars=max_chars)
