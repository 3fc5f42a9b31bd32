"""FastAPI dependencies: the service, the caller's identity, the internal-API guard, ids in paths.

All ``async def`` although none awaits: FastAPI runs a plain ``def`` dependency in its
thread pool, a thread hand-off per dependency per request (measured: a fifth of the
service's CPU under load).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from parley_common.auth import AuthError, TokenVerifier
from parley_common.errors import NotFound, RateLimited, Unauthenticated
from parley_common.event_limits import EventKind, EventLimiter
from parley_common.ids import MAX_ID_CHARS, unfit_characters
from parley_messages.config import MessagesSettings
from parley_messages.service import MessagesService

_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_service(request: Request) -> MessagesService:
    service: MessagesService = request.state.service
    return service


async def get_settings(request: Request) -> MessagesSettings:
    settings: MessagesSettings = request.state.settings
    return settings


async def current_user(request: Request, credentials: Credentials) -> str:
    verifier: TokenVerifier = request.state.verifier
    if credentials is None:
        raise Unauthenticated("missing bearer token")
    try:
        return verifier.verify(credentials.credentials).user_id
    except AuthError as exc:
        raise Unauthenticated(f"{exc.code.value}: {exc.message}") from None


async def internal_caller(request: Request, credentials: Credentials) -> None:
    expected = (await get_settings(request)).internal_token_value
    if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise Unauthenticated("internal API: missing or wrong INTERNAL_TOKEN")


async def conversation_path(
    conversation_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_CHARS)],
) -> str:
    """The ``{conversation_id}`` of a route. One that no conversation can have (a NUL, a
    control character: it could not even be looked up) is ``not_found``, like any unknown id."""
    if unfit_characters(conversation_id):
        raise NotFound()
    return conversation_id


def _limited(kind: EventKind) -> Callable[..., Awaitable[str]]:
    """The caller, once a token of their ``kind`` limit is taken (the same buckets as the
    gateway's socket events: a user has one limit whichever way they come)."""

    async def limited_user(request: Request, user: Annotated[str, Depends(current_user)]) -> str:
        limiter: EventLimiter = request.state.event_limiter
        wait_ms = await limiter.take(user, kind)
        if wait_ms:
            raise RateLimited("too many requests of this kind", retry_after_ms=wait_ms)
        return user

    return limited_user


ServiceDep = Annotated[MessagesService, Depends(get_service)]
SettingsDep = Annotated[MessagesSettings, Depends(get_settings)]
CurrentUser = Annotated[str, Depends(current_user)]
ReadingUser = Annotated[str, Depends(_limited(EventKind.SYNC))]
CreatingUser = Annotated[str, Depends(_limited(EventKind.ROOM))]
MarkingUser = Annotated[str, Depends(_limited(EventKind.RECEIPT))]
InternalCaller = Depends(internal_caller)
ConversationPath = Annotated[str, Depends(conversation_path)]
