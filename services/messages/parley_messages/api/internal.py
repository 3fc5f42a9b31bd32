"""The internal API the gateway calls (INTERNAL_TOKEN bearer). Not exposed by the ingress.

Bodies carry the acting user's id: the gateway has already verified that user's JWT.
Errors use the public envelope, so the gateway can hand the code to the client as is.
The gateway's send call, ``POST /internal/v1/messages/batch``, is a plain ASGI route in front
of these (:mod:`parley_messages.api.send_route`).
"""

from __future__ import annotations

import logging

import orjson
from fastapi import APIRouter, Response

from parley_common.internal_api import (
    InternalAccess,
    InternalReceipt,
    InternalSend,
    InternalSync,
    InternalUser,
)
from parley_common.wire import MembersSnapshot, ReceiptResult, SendResult, SyncResult
from parley_messages.deps import ConversationPath, InternalCaller, ServiceDep
from parley_messages.metrics import RECEIPTS, SENDS, SYNCS
from parley_messages.send_answers import Send
from parley_messages.store import WatermarkKind

log = logging.getLogger(__name__)

router = APIRouter(prefix="/internal/v1", tags=["internal"], dependencies=[InternalCaller])


def _send(body: InternalSend) -> Send:
    return Send(
        body.sender_id, body.conversation_id, body.client_message_id, body.body, body.origin_socket_id
    )


@router.post("/messages", response_model=SendResult)
async def send(body: InternalSend, service: ServiceDep) -> Response:
    SENDS.labels("socket").inc()
    answer = await service.send_message(_send(body))
    return Response(orjson.dumps(answer), media_type="application/json")


@router.post("/conversations/{conversation_id}/join", response_model=MembersSnapshot)
async def join(conversation_id: ConversationPath, body: InternalUser, service: ServiceDep) -> Response:
    """The ``conversation:join`` answer: a :class:`MembersSnapshot` (documented below),
    serialized straight from the service's dict (a big room's snapshot is thousands of members)."""
    snapshot = await service.members_snapshot(user_id=body.user_id, conversation_id=conversation_id)
    return Response(orjson.dumps(snapshot), media_type="application/json")


@router.post("/conversations/{conversation_id}/access")
async def access(
    conversation_id: ConversationPath, body: InternalUser, service: ServiceDep
) -> InternalAccess:
    found = await service.check_access(user_id=body.user_id, conversation_id=conversation_id)
    return InternalAccess(last_seq=found.last_seq)


@router.post("/conversations/{conversation_id}/sync")
async def sync(conversation_id: ConversationPath, body: InternalSync, service: ServiceDep) -> SyncResult:
    SYNCS.labels("socket").inc()
    return await service.sync(user_id=body.user_id, conversation_id=conversation_id, query=body)


@router.post("/conversations/{conversation_id}/{kind}")
async def mark(
    conversation_id: ConversationPath, kind: WatermarkKind, body: InternalReceipt, service: ServiceDep
) -> ReceiptResult:
    RECEIPTS.labels("socket").inc()
    return await service.mark(
        user_id=body.user_id, conversation_id=conversation_id, kind=kind, up_to_seq=body.up_to_seq
    )
