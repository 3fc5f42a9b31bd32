"""HS256 tokens the way a deployment's auth service would mint them (python-jose)."""

from __future__ import annotations

import time

from jose import jwt


def mint(sub: str, secret: str, ttl_s: int, issuer: str | None = None, audience: str | None = None) -> str:
    claims: dict[str, object] = {"sub": sub, "iat": int(time.time()), "exp": int(time.time()) + ttl_s}
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return str(jwt.encode(claims, secret, algorithm="HS256"))
