"""Room names (PROTOCOL §2, §4.3): one place, so every module spells them alike."""

from __future__ import annotations


def user_room(user_id: str) -> str:
    return f"user:{user_id}"


def conversation_room(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"
