"""What the SDK hands to apps: messages as the user sees them, members, connection state."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from parley_client.errors import ParleyError
from parley_client.text import decode


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # between attempts, and after close()
    # The server refused the token (its code: ``ParleyClient.auth_error.code``) and refused the
    # fresh one asked for at once too; the client keeps trying, asking for a token each time.
    UNAUTHORIZED = "unauthorized"


class MessageStatus(StrEnum):
    SENDING = "sending"  # shown at once; queued while offline; retried with the same key
    SENT = "sent"  # stored by the server (has id and seq)
    DELIVERED = "delivered"  # every other member received it
    READ = "read"  # every other member saw it
    FAILED = "failed"  # gave up (or refused): retry by hand with Conversation.retry()


@dataclass(eq=False)
class LocalMessage:
    """One message in a conversation's store. ``id``/``seq`` are None until the server stored it.

    ``body`` is as on the wire (PROTOCOL §4.2: ``&``, ``<``, ``>`` escaped as entities); show
    :attr:`text`, and send or forward :attr:`text`, never ``body`` (it would be escaped twice).
    """

    conversation_id: str
    client_message_id: str
    sender_id: str
    body: str
    id: str | None = None
    seq: int | None = None
    created_at: str | None = None
    status: MessageStatus = MessageStatus.SENT
    error: ParleyError | None = None

    @property
    def text(self) -> str:
        """What the sender typed (normalized): ``body`` decoded."""
        return decode(self.body)

    @classmethod
    def from_wire(cls, message: dict[str, Any]) -> LocalMessage:
        return cls(
            conversation_id=message["conversationId"],
            client_message_id=message["clientMessageId"],
            sender_id=message["senderId"],
            body=message["body"],
            id=message["id"],
            seq=message["seq"],
            created_at=message["createdAt"],
        )


@dataclass
class Member:
    user_id: str
    online: bool = False
    last_delivered_seq: int = 0
    last_read_seq: int = 0
    typing: bool = field(default=False)

    @classmethod
    def from_wire(cls, member: dict[str, Any]) -> Member:
        return cls(
            user_id=member["userId"],
            online=bool(member.get("online")),
            last_delivered_seq=int(member.get("lastDeliveredSeq") or 0),
            last_read_seq=int(member.get("lastReadSeq") or 0),
        )
