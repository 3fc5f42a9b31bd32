"""JWT verification (PROTOCOL §2), shared by every service that accepts user tokens.

Policy: only the algorithms configured in JWT_ALGORITHMS are accepted, and the key is
chosen by the algorithm family, never by the token: HS* tokens are checked against
JWT_SECRET, RS*/ES* tokens against JWT_PUBLIC_KEY. So ``alg: none`` and the classic
confusion attack (an HS256 token signed with the RSA public key as the HMAC secret) are
refused. ``exp`` and ``sub`` are required; ``iss`` and ``aud`` are enforced when configured.
A token is refused before it is decoded when it is over ``MAX_TOKEN_CHARS``; time claims
(``exp``, ``nbf``, ``iat``) must be finite numbers and ``sub`` a valid id
(:mod:`parley_common.ids`), so that no token the issuer could sign breaks a service later.
A token is expired from ``exp + JWT_LEEWAY_S`` on, to the millisecond (python-jose compares
whole seconds, which let a token through for up to a second after it: so the reconnect
right after ``auth:expired`` succeeded). A header naming critical extensions (``crit``) is
refused: RFC 7515 §4.1.11 says to refuse what one does not understand, and this verifier
understands none.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jose import jwt
from jose.exceptions import ExpiredSignatureError, JOSEError

from parley_common.config import JwtSettings
from parley_common.ids import is_valid_id

_HMAC_PREFIX = "HS"
# Real tokens are well under 2 KiB; a bigger one is refused before any decoding.
MAX_TOKEN_CHARS = 8 * 1024
_TIME_CLAIMS = ("exp", "nbf", "iat")


class AuthCode(StrEnum):
    MISSING = "auth_missing"
    INVALID = "auth_invalid"
    EXPIRED = "auth_expired"


class AuthError(Exception):
    """A refused token; ``code`` is what the client sees (``connect_error`` message)."""

    def __init__(self, code: AuthCode, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")

    def to_data(self) -> dict[str, str]:
        return {"code": self.code.value, "message": self.message}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token speaks for."""

    user_id: str
    expires_at: float
    claims: dict[str, Any]


class TokenVerifier:
    def __init__(self, settings: JwtSettings, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._algorithms = list(settings.jwt_algorithms)
        self._secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self._public_key = settings.jwt_public_key
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self.leeway_s = settings.jwt_leeway_s

    def _key_for(self, algorithm: str) -> str:
        key = self._secret if algorithm.startswith(_HMAC_PREFIX) else self._public_key
        if not key:
            raise AuthError(AuthCode.INVALID, f"algorithm {algorithm} is not accepted")
        return key

    def verify(self, token: object) -> Principal:
        """Return the principal of a valid token or raise :class:`AuthError`."""
        if token is None or token == "":
            raise AuthError(AuthCode.MISSING, "a token is required")
        if not isinstance(token, str):
            raise AuthError(AuthCode.INVALID, "the token must be a string")
        if len(token) > MAX_TOKEN_CHARS:
            raise AuthError(AuthCode.INVALID, "the token is too large")
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError:
            raise AuthError(AuthCode.INVALID, "malformed token") from None
        if "crit" in header:
            raise AuthError(AuthCode.INVALID, "the token requires extensions this server does not support")
        _refuse_unusable_times(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise AuthError(AuthCode.INVALID, f"algorithm {algorithm!r} is not accepted")
        try:
            claims = jwt.decode(
                token,
                self._key_for(algorithm),
                algorithms=[algorithm],
                issuer=self._issuer,
                audience=self._audience,
                options={
                    "require_exp": True,
                    "require_sub": True,
                    # python-jose skips the aud/iss checks when the claim is absent.
                    "require_aud": self._audience is not None,
                    "require_iss": self._issuer is not None,
                    "verify_aud": self._audience is not None,
                    "verify_iss": self._issuer is not None,
                    "leeway": self.leeway_s,
                },
            )
        except ExpiredSignatureError:
            raise AuthError(AuthCode.EXPIRED, "token has expired") from None
        except JOSEError as exc:
            raise AuthError(AuthCode.INVALID, _describe(exc)) from None
        principal = _principal(claims)
        if self._clock() >= principal.expires_at + self.leeway_s:
            raise AuthError(AuthCode.EXPIRED, "token has expired")
        return principal


def _refuse_unusable_times(token: str) -> None:
    # python-jose reads `exp: true` as 1 (1970) and calls it expired, and fails with an
    # OverflowError (a 500) on `exp: Infinity`, which its JSON parser accepts: both malformed.
    try:
        claims = jwt.get_unverified_claims(token)
    except JOSEError:
        return  # decode reports the malformed token
    for name in _TIME_CLAIMS:
        if name in claims and not _finite_number(claims[name]):
            raise AuthError(AuthCode.INVALID, f"token has no usable `{name}`")


def _finite_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer beyond any float
        return False


def _principal(claims: dict[str, Any]) -> Principal:
    sub = claims.get("sub")
    exp = claims.get("exp")
    if not isinstance(sub, str) or not is_valid_id(sub) or not sub.strip():
        raise AuthError(AuthCode.INVALID, "token has no usable `sub`")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise AuthError(AuthCode.INVALID, "token has no usable `exp`")
    return Principal(user_id=sub, expires_at=float(exp), claims=claims)


def _describe(exc: JOSEError) -> str:
    text = str(exc) or type(exc).__name__
    # python-jose's messages are safe to show but sometimes long; keep the first sentence.
    return text.split("\n", 1)[0][:200]


def mint_token(
    settings: JwtSettings, user_id: str, *, ttl_s: int = 3600, now: float | None = None
) -> tuple[str, int]:
    """Sign an HS* token for ``user_id`` (dev tokens and tests); returns (token, exp)."""
    if settings.jwt_secret is None:
        raise ValueError("minting needs JWT_SECRET")
    algorithm = next((a for a in settings.jwt_algorithms if a.startswith(_HMAC_PREFIX)), None)
    if algorithm is None:
        raise ValueError("minting needs an HS* algorithm in JWT_ALGORITHMS")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {"sub": user_id, "iat": issued, "exp": issued + ttl_s}
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    token = jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=algorithm)
    return token, claims["exp"]
