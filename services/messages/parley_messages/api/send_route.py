"""``POST /internal/v1/messages/batch``, the gateway's send call, as a plain ASGI route: every
socket message goes through it, and FastAPI's routing, dependencies and a model per send cost
more than the sends themselves (measured with py-spy, docs/performance.md). The caller is
trusted (INTERNAL_TOKEN), so each send is checked by plain functions, the same checks as
:class:`parley_common.internal_api.InternalSend`: one bad send is refused alone.

Answers, in order, one per send: ``{ok, message, duplicate}`` or ``{ok: false, error}``.
"""

from __future__ import annotations

import hmac
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from parley_common.errors import InvalidPayload, ParleyError, Unauthenticated
from parley_common.http import error_response
from parley_common.ids import MAX_ID_CHARS, is_valid_id
from parley_common.internal_api import MAX_BATCH
from parley_common.wire import stored_body
from parley_messages import send_answers
from parley_messages.metrics import SENDS
from parley_messages.service import MessagesService

PATH = "/internal/v1/messages/batch"
_JSON = [(b"content-type", b"application/json")]


class SendBatchRoute:
    """In front of ``app``: answers :data:`PATH` itself, hands everything else on."""

    def __init__(self, app: ASGIApp, *, internal_token: str) -> None:
        self.app = app
        self._token = f"Bearer {internal_token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            self._authorize(scope)
            sends = _sends(await _body(receive))
            service: MessagesService = scope["state"]["service"]
            answer = orjson.dumps({"results": await _answers(service, sends)})
        except ParleyError as exc:
            await error_response(exc)(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": _JSON})
        await send({"type": "http.response.body", "body": answer})

    def _authorize(self, scope: Scope) -> None:
        given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if not hmac.compare_digest(given, self._token):
            raise Unauthenticated("internal API: missing or wrong INTERNAL_TOKEN")


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()  # BodySizeLimit, outside this route, caps the size
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _sends(content: bytes) -> list[Any]:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise InvalidPayload("the body is not JSON") from None
    sends = body.get("sends") if isinstance(body, dict) else None
    if not isinstance(sends, list) or not 1 <= len(sends) <= MAX_BATCH:
        raise InvalidPayload(f"sends: a list of 1 to {MAX_BATCH} sends")
    SENDS.labels("socket").inc(len(sends))
    return sends


async def _answers(service: MessagesService, items: list[Any]) -> list[dict[str, Any]]:
    checked = [_send(item) for item in items]
    valid = [c for c in checked if isinstance(c, send_answers.Send)]
    outcomes = iter(await service.send_batch(valid) if valid else [])
    results = []
    for c in checked:
        outcome = c if isinstance(c, ParleyError) else next(outcomes)
        results.append(outcome.to_ack() if isinstance(outcome, ParleyError) else {"ok": True, **outcome})
    return results


def _send(item: Any) -> send_answers.Send | ParleyError:
    if not isinstance(item, dict):
        return InvalidPayload("a send is a JSON object")
    user, conversation = _id(item.get("userId")), _id(item.get("conversationId"))
    key, origin = _id(item.get("clientMessageId"), 128), item.get("originSocketId")
    if user is None or conversation is None or key is None:
        return InvalidPayload(f"userId, conversationId (1-{MAX_ID_CHARS}) and clientMessageId (1-128): ids")
    if origin is not None and not isinstance(origin, str):
        return InvalidPayload("originSocketId: a string")
    try:
        body = stored_body(item.get("body"))
    except ValueError as exc:
        return InvalidPayload(f"body: {exc}")
    return send_answers.Send(user, conversation, key, body, origin)


def _id(value: object, max_chars: int = MAX_ID_CHARS) -> str | None:
    return value if isinstance(value, str) and is_valid_id(value, max_chars=max_chars) else None
