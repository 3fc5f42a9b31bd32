"""Who is connecting (PROTOCOL §2): the token from the CONNECT ``auth`` payload or the header.

``auth.token`` wins over ``Authorization: Bearer``; the query string is never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from parley_common.auth import Principal, TokenVerifier

_MAX_DEVICE_ID = 200


@dataclass(frozen=True, slots=True)
class Handshake:
    principal: Principal
    device_id: str | None


def authenticate(verifier: TokenVerifier, environ: dict[str, Any], auth: Any) -> Handshake:
    """Verify the connecting client's token; raises :class:`parley_common.auth.AuthError`."""
    payload = auth if isinstance(auth, dict) else {}
    token = payload.get("token")
    if token is None or token == "":
        token = _bearer(environ.get("HTTP_AUTHORIZATION"))
    principal = verifier.verify(token)
    device_id = payload.get("deviceId")
    if not isinstance(device_id, str) or not 0 < len(device_id) <= _MAX_DEVICE_ID:
        device_id = None  # optional and advisory: a bad one is ignored, not refused
    return Handshake(principal=principal, device_id=device_id)


def _bearer(header: object) -> str | None:
    if not isinstance(header, str):
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None
