"""Parley's Python client SDK: see README.md in this folder."""

from parley_client.client import ParleyClient
from parley_client.conversation import Conversation
from parley_client.errors import (
    AuthError,
    Forbidden,
    InternalError,
    InvalidPayload,
    NotFound,
    ParleyError,
    RateLimited,
    Unavailable,
)
from parley_client.models import ConnectionState, LocalMessage, Member, MessageStatus

__all__ = [
    "AuthError",
    "ConnectionState",
    "Conversation",
    "Forbidden",
    "InternalError",
    "InvalidPayload",
    "LocalMessage",
    "Member",
    "MessageStatus",
    "NotFound",
    "ParleyClient",
    "ParleyError",
    "RateLimited",
    "Unavailable",
]
