"""The public HTTP API of PROTOCOL §5 (JWT bearer)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response

from parley_common.wire import (
    Conversation,
    ConversationDetail,
    CreateConversation,
    PostMessage,
    ReceiptBody,
    ReceiptResult,
    SendResult,
    SyncQuery,
    SyncResult,
    WireModel,
    parse_payload,
)
from parley_messages.deps import (
    ConversationPath,
    CreatingUser,
    CurrentUser,
    MarkingUser,
    ReadingUser,
    ServiceDep,
)
from parley_messages.metrics import CONVERSATION_READS, RECEIPTS, SENDS, SYNCS
from parley_messages.send_answers import Send
from parley_messages.store import WatermarkKind

router = APIRouter(prefix="/api", tags=["public"])


class ConversationList(WireModel):
    conversations: list[Conversation]


@router.post("/conversations", status_code=201)
async def create_conversation(
    body: CreateConversation, user: CreatingUser, service: ServiceDep
) -> Conversation:
    return await service.create_conversation(user_id=user, request=body)


@router.get("/conversations")
async def list_conversations(user: ReadingUser, service: ServiceDep) -> ConversationList:
    return ConversationList(conversations=await service.list_conversations(user_id=user))


@router.get("/conversations/{conversation_id}")
async def get_conversation(
    conversation_id: ConversationPath, user: ReadingUser, service: ServiceDep
) -> ConversationDetail:
    CONVERSATION_READS.inc()
    return await service.get_conversation(user_id=user, conversation_id=conversation_id)


@router.get("/conversations/{conversation_id}/messages")
async def list_messages(
    conversation_id: ConversationPath,
    user: ReadingUser,
    service: ServiceDep,
    after_seq: Annotated[int | None, Query(alias="afterSeq")] = None,
    since: Annotated[str | None, Query()] = None,
    limit: Annotated[int | None, Query()] = None,
) -> SyncResult:
    SYNCS.labels("http").inc()
    raw = {"afterSeq": after_seq, "since": since}
    if limit is not None:
        raw["limit"] = limit
    query = parse_payload(SyncQuery, raw)
    return await service.sync(user_id=user, conversation_id=conversation_id, query=query)


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=201,
    response_model=SendResult,
    responses={200: {"model": SendResult, "description": "A repeat: the message stored before"}},
)
async def post_message(
    conversation_id: ConversationPath, body: PostMessage, user: CurrentUser, service: ServiceDep
) -> Response:
    SENDS.labels("http").inc()
    answer = await service.send_message(Send(user, conversation_id, body.client_message_id, body.body))
    return Response(
        orjson.dumps(answer), status_code=200 if answer["duplicate"] else 201, media_type="application/json"
    )


async def _mark(
    kind: WatermarkKind, conversation_id: str, body: ReceiptBody, user: str, service: ServiceDep
) -> ReceiptResult:
    RECEIPTS.labels("http").inc()
    return await service.mark(
        user_id=user, conversation_id=conversation_id, kind=kind, up_to_seq=body.up_to_seq
    )


@router.post("/conversations/{conversation_id}/delivered")
async def mark_delivered(
    conversation_id: ConversationPath, body: ReceiptBody, user: MarkingUser, service: ServiceDep
) -> ReceiptResult:
    return await _mark("delivered", conversation_id, body, user, service)


@router.post("/conversations/{conversation_id}/read")
async def mark_read(
    conversation_id: ConversationPath, body: ReceiptBody, user: MarkingUser, service: ServiceDep
) -> ReceiptResult:
    return await _mark("read", conversation_id, body, user, service)
