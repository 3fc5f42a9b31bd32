"""Bodies of the messages service's internal API (the gateway is the caller)."""

from __future__ import annotations

from parley_common.wire import Body, ClientMessageId, Id, Seq, SyncQuery, WireModel


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


class InternalSync(SyncQuery, InternalUser):
    pass


class InternalReceipt(InternalUser):
    up_to_seq: Seq


class InternalAccess(WireModel):
    last_seq: int
