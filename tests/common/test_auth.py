"""TokenVerifier (PROTOCOL §2): table-driven accept/refuse cases, plus mint_token.

Tokens are built when a case runs, with ``exp`` relative to ``time.time()`` (no sleeps).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from jose import jwt

from parley_common.auth import AuthCode, AuthError, Principal, TokenVerifier, mint_token
from parley_common.config import JwtSettings
from tests.support.rsa_keys import RsaKeys, generate_rsa_keys

SECRET = "a-long-enough-test-secret-123"
OTHER_SECRET = "another-long-enough-secret-456"
ISSUER = "https://auth.parley.test"
AUDIENCE = "parley"
DROP: Any = object()  # a claim value meaning "leave this claim out"


@dataclass(frozen=True)
class Keys:
    rsa: RsaKeys
    other_rsa: RsaKeys  # a second pair: a valid signature by the wrong key


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(rsa=generate_rsa_keys(), other_rsa=generate_rsa_keys())


# ---- token builders: Keys -> token ---------------------------------------------------

TokenBuilder = Callable[[Keys], object]
SettingsBuilder = Callable[[Keys], JwtSettings]


def _claims(exp_in: int | None = 300, **overrides: Any) -> dict[str, Any]:
    """``sub`` alice and ``exp`` ``exp_in`` seconds from now (None: no exp), then overrides."""
    claims: dict[str, Any] = {"sub": "alice"}
    if exp_in is not None:
        claims["exp"] = int(time.time()) + exp_in
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not DROP}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64json(obj: dict[str, Any]) -> str:
    return _b64url(json.dumps(obj, separators=(",", ":")).encode())


def hs(*, secret: str = SECRET, alg: str = "HS256", exp_in: int | None = 300, **claims: Any) -> TokenBuilder:
    return lambda _keys: jwt.encode(_claims(exp_in, **claims), secret, algorithm=alg)


def rs(*, wrong_key: bool = False, **claims: Any) -> TokenBuilder:
    def build(keys: Keys) -> str:
        pair = keys.other_rsa if wrong_key else keys.rsa
        return jwt.encode(_claims(**claims), pair.private_pem, algorithm="RS256")

    return build


def unsigned(alg: str = "none") -> TokenBuilder:
    """Hand-built ``alg: none`` token: header, claims and an empty signature."""
    return lambda _keys: f"{_b64json({'alg': alg, 'typ': 'JWT'})}.{_b64json(_claims())}."


def confusion(keys: Keys) -> str:
    """HS256 with the RSA *public* key PEM as the HMAC secret, signed by hand (as an attacker
    would: python-jose itself refuses a PEM as an HMAC key)."""
    signing_input = f"{_b64json({'alg': 'HS256', 'typ': 'JWT'})}.{_b64json(_claims())}"
    signature = hmac.new(keys.rsa.public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def tampered(keys: Keys) -> str:
    header, payload, _signature = str(hs()(keys)).split(".")
    forged = _b64json({**_claims(), "sub": "mallory"})
    assert forged != payload
    return f"{header}.{forged}.{_signature}"


def raw(token: object) -> TokenBuilder:
    return lambda _keys: token


# ---- settings builders ---------------------------------------------------------------


def hs256(**extra: Any) -> SettingsBuilder:
    return lambda _keys: JwtSettings(dev_mode=False, jwt_secret=SECRET, jwt_algorithms=["HS256"], **extra)


def rs256(*, and_hs256: bool = False) -> SettingsBuilder:
    def build(keys: Keys) -> JwtSettings:
        if and_hs256:
            return JwtSettings(
                dev_mode=False,
                jwt_algorithms=["RS256", "HS256"],
                jwt_public_key=keys.rsa.public_pem,
                jwt_secret=OTHER_SECRET,
            )
        return JwtSettings(dev_mode=False, jwt_algorithms=["RS256"], jwt_public_key=keys.rsa.public_pem)

    return build


ISS_AUD = hs256(jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
OK = None  # expected outcome: accepted, principal alice
INVALID = AuthCode.INVALID
EXPIRED = AuthCode.EXPIRED
MISSING = AuthCode.MISSING


def case(
    case_id: str, token: TokenBuilder, expect: AuthCode | None, settings: SettingsBuilder | None = None
) -> Any:
    return pytest.param(token, expect, settings or hs256(), id=case_id)


CASES = [
    # the happy paths
    case("hs256-valid", hs(), OK),
    case("rs256-valid", rs(), OK, rs256()),
    case("rs256-valid-hs256-also-allowed", rs(), OK, rs256(and_hs256=True)),
    case("hs256-valid-rs256-also-allowed", hs(secret=OTHER_SECRET), OK, rs256(and_hs256=True)),
    # time
    case("expired", hs(exp_in=-60), EXPIRED),
    case("expired-5s-ago-leeway-10s", hs(exp_in=-5), OK, hs256(jwt_leeway_s=10)),
    case("expired-30s-ago-leeway-10s", hs(exp_in=-30), EXPIRED, hs256(jwt_leeway_s=10)),
    # signature and algorithm
    case("wrong-secret", hs(secret=OTHER_SECRET), INVALID),
    case("tampered-claims", tampered, INVALID),
    case("alg-none", unsigned(), INVALID),
    case("alg-None", unsigned("None"), INVALID),
    case("alg-none-vs-rs256", unsigned(), INVALID, rs256()),
    case("confusion-public-key-as-hmac-vs-rs256", confusion, INVALID, rs256()),
    case("confusion-public-key-as-hmac-vs-rs256+hs256", confusion, INVALID, rs256(and_hs256=True)),
    case("hs512-when-only-hs256", hs(alg="HS512"), INVALID),
    case("rs256-when-only-hs256", rs(), INVALID),
    case("hs256-when-only-rs256", hs(), INVALID, rs256()),
    case("rs256-signed-by-other-key", rs(wrong_key=True), INVALID, rs256()),
    # required claims
    case("missing-sub", hs(sub=DROP), INVALID),
    case("empty-sub", hs(sub=""), INVALID),
    case("non-string-sub", hs(sub=42), INVALID),
    case("missing-exp", hs(exp_in=None), INVALID),
    case("boolean-exp", hs(exp=True), INVALID),
    case("string-exp", hs(exp_in=None, exp=str(int(time.time()) + 3600)), INVALID),
    # iss / aud
    case("iss-aud-correct", hs(iss=ISSUER, aud=AUDIENCE), OK, ISS_AUD),
    case("iss-aud-correct-aud-list", hs(iss=ISSUER, aud=["other", AUDIENCE]), OK, ISS_AUD),
    case("wrong-iss", hs(iss="https://evil.test", aud=AUDIENCE), INVALID, ISS_AUD),
    case("missing-iss", hs(aud=AUDIENCE), INVALID, ISS_AUD),
    case("wrong-aud", hs(iss=ISSUER, aud="other"), INVALID, ISS_AUD),
    case("missing-aud", hs(iss=ISSUER), INVALID, ISS_AUD),
    case("iss-aud-not-configured-not-checked", hs(iss="anyone", aud="anything"), OK),
    # malformed and missing
    case("malformed-abc", raw("abc"), INVALID),
    case("malformed-a.b.c", raw("a.b.c"), INVALID),
    case("malformed-dots-only", raw(".."), INVALID),
    case("malformed-two-segments", raw("eyJhbGciOiJIUzI1NiJ9.e30"), INVALID),
    case("empty-string", raw(""), MISSING),
    case("none", raw(None), MISSING),
    case("not-a-string", raw(5), INVALID),
]


@pytest.mark.parametrize(("token", "expect", "settings"), CASES)
def test_verify(token: TokenBuilder, expect: AuthCode | None, settings: SettingsBuilder, keys: Keys) -> None:
    verifier = TokenVerifier(settings(keys))
    value = token(keys)
    if expect is None:
        principal = verifier.verify(value)
        assert principal.user_id == "alice"
        assert principal.expires_at == float(principal.claims["exp"])
        return
    with pytest.raises(AuthError) as info:
        verifier.verify(value)
    assert info.value.code is expect
    assert info.value.message
    assert info.value.to_data() == {"code": expect.value, "message": info.value.message}


def test_auth_codes_are_the_protocol_strings() -> None:
    assert [code.value for code in AuthCode] == ["auth_missing", "auth_invalid", "auth_expired"]


# ---- mint_token ----------------------------------------------------------------------


def test_mint_token_round_trip() -> None:
    settings = JwtSettings(dev_mode=False, jwt_secret=SECRET, jwt_algorithms=["HS256"])
    token, exp = mint_token(settings, "bob", ttl_s=120, now=1_900_000_000.7)
    assert exp == 1_900_000_120
    claims = jwt.get_unverified_claims(token)
    assert claims == {"sub": "bob", "iat": 1_900_000_000, "exp": exp}

    token, exp = mint_token(settings, "bob", ttl_s=120)
    assert exp == pytest.approx(time.time() + 120, abs=5)
    principal = TokenVerifier(settings).verify(token)
    assert principal == Principal(user_id="bob", expires_at=float(exp), claims=principal.claims)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_mint_token_carries_iss_aud_and_picks_the_first_hmac_algorithm(keys: Keys) -> None:
    settings = JwtSettings(
        dev_mode=False,
        jwt_secret=SECRET,
        jwt_algorithms=["RS256", "HS384", "HS256"],
        jwt_public_key=keys.rsa.public_pem,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
    )
    token, _exp = mint_token(settings, "carol")
    principal = TokenVerifier(settings).verify(token)
    assert principal.user_id == "carol"
    assert (principal.claims["iss"], principal.claims["aud"]) == (ISSUER, AUDIENCE)
    assert jwt.get_unverified_header(token)["alg"] == "HS384"


def test_minted_token_in_the_past_is_expired() -> None:
    settings = JwtSettings(dev_mode=False, jwt_secret=SECRET, jwt_algorithms=["HS256"])
    token, exp = mint_token(settings, "bob", ttl_s=60, now=time.time() - 3600)
    assert exp < time.time()
    with pytest.raises(AuthError) as info:
        TokenVerifier(settings).verify(token)
    assert info.value.code is AuthCode.EXPIRED


def test_dev_mode_token_verifies_with_the_dev_secret() -> None:
    settings = JwtSettings(dev_mode=True)
    token, _exp = mint_token(settings, "dev-user")
    assert TokenVerifier(settings).verify(token).user_id == "dev-user"


def test_mint_token_needs_a_secret_and_an_hmac_algorithm(keys: Keys) -> None:
    settings = JwtSettings(dev_mode=False, jwt_algorithms=["RS256"], jwt_public_key=keys.rsa.public_pem)
    with pytest.raises(ValueError, match="JWT_SECRET"):
        mint_token(settings, "bob")
    settings = JwtSettings(
        dev_mode=False, jwt_algorithms=["RS256"], jwt_public_key=keys.rsa.public_pem, jwt_secret=SECRET
    )
    with pytest.raises(ValueError, match="HS"):
        mint_token(settings, "bob")
