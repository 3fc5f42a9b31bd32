"""Bodies of the messages service's internal API (the gateway is the caller)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from parley_common.wire import Body, ClientMessageId, Id, Seq, SyncQuery, WireModel

MAX_BATCH = 500


class InternalUser(WireModel):
    user_id: Id


class InternalSend(InternalUser):
    conversation_id: Id
    client_message_id: ClientMessageId
    body: Body
    # The socket that sent it: it gets message:ack, not message:new.
    origin_socket_id: str | None = None

    @property
    def sender_id(self) -> str:
        return self.user_id


class InternalSendBatch(WireModel):
    # Items are validated one by one, so that one bad send is refused alone.
    sends: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=MAX_BATCH)]


class InternalSync(SyncQuery, InternalUser):
    pass


class InternalReceipt(InternalUser):
    up_to_seq: Seq


class InternalAccess(WireModel):
    last_seq: int
