"""Forged, stale and odd tokens (PROTOCOL §2): none connects a socket or reaches the HTTP API.

One Parley is configured as strictly as a production one can be: RS256 tokens of the
identity provider *and* HS256 ones, an issuer and an audience, on every service. Every
case is tried three ways: in the Socket.IO CONNECT ``auth`` payload, as the handshake's
``Authorization`` header, and on every route of the HTTP API. A refused token must also
leave no trace: its user has no conversation afterwards. The verifier's table of cases,
the RS256-only confusion case included, is unit-tested in tests/common/test_auth.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
import socketio
from jose import jwt

from tests.gateway.conftest import SECRET, Stack
from tests.security.conftest import AUDIENCE, ISSUER, RsaKeys, secured
from tests.security.surface import http_routes
from tests.support.sockets import SocketClient

OTHER_SECRET = "somebody-elses-secret-of-length"


@dataclass(frozen=True)
class Forge:
    """What a forger works with: both key pairs, and the user (mallory) to pose as."""

    issuer: RsaKeys
    other: RsaKeys
    sub: str

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Valid claims (iss, aud, an hour of life), then the overrides (None drops a claim)."""
        base: dict[str, Any] = {"sub": self.sub, "iss": ISSUER, "aud": AUDIENCE, "exp": later(3600)}
        base.update(overrides)
        return {
            name: value.at() if isinstance(value, FromNow) else value
            for name, value in base.items()
            if value is not None
        }


TokenMaker = Callable[[Forge], str]


def later(seconds: int) -> int:
    return int(time.time()) + seconds


@dataclass(frozen=True)
class FromNow:
    """A time claim read off the clock when the token is minted, not when the cases are built:
    a run longer than the offset would otherwise turn "not yet valid" into valid."""

    seconds: int

    def at(self) -> int:
        return later(self.seconds)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any] | str) -> str:
    return _b64((value if isinstance(value, str) else json.dumps(value)).encode())


def hs256(secret: str = SECRET, alg: str = "HS256", **overrides: Any) -> TokenMaker:
    return lambda forge: jwt.encode(forge.claims(**overrides), secret, algorithm=alg)


def rs256(*, other_key: bool = False, **overrides: Any) -> TokenMaker:
    def make(forge: Forge) -> str:
        pem = (forge.other if other_key else forge.issuer).private_pem
        return jwt.encode(forge.claims(**overrides), pem, algorithm="RS256")

    return make


def hand_signed(
    edit: Callable[[str], str] = lambda text: text, *, alg: str = "HS256", **overrides: Any
) -> TokenMaker:
    """An HS256 token over claims JSON edited by hand: python-jose would not write ``Infinity``."""

    def make(forge: Forge) -> str:
        payload = edit(json.dumps(forge.claims(**overrides)))
        signing_input = f"{_segment({'alg': alg, 'typ': 'JWT'})}.{_segment(payload)}"
        signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"

    return make


def unsigned(alg: str) -> TokenMaker:
    return lambda forge: f"{_segment({'alg': alg, 'typ': 'JWT'})}.{_segment(forge.claims())}."


def alg_none_keeping_a_signature(forge: Forge) -> str:
    _header, payload, signature = hs256()(forge).split(".")
    return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{payload}.{signature}"


def confusion(forge: Forge) -> str:
    """HS256 signed with the issuer's RSA *public* key as the HMAC secret (the classic attack)."""
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT'})}.{_segment(forge.claims())}"
    signature = hmac.new(forge.issuer.public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def tampered(forge: Forge) -> str:
    header, _payload, signature = hs256(sub="someone-else")(forge).split(".")
    return f"{header}.{_segment(forge.claims())}.{signature}"


def raw(token: str) -> TokenMaker:
    return lambda _forge: token


def time_claim(name: str, literal: str) -> TokenMaker:
    """``name`` set to a JSON literal python-jose's parser accepts (``Infinity``, ``NaN``, …)."""
    return hand_signed(lambda text: text.replace('"@"', literal), **{name: "@"})


INVALID, EXPIRED = "auth_invalid", "auth_expired"
CASES: dict[str, tuple[TokenMaker, str]] = {
    # signature and algorithm
    "alg-none": (unsigned("none"), INVALID),
    "alg-None": (unsigned("None"), INVALID),
    "alg-NONE": (unsigned("NONE"), INVALID),
    "alg-none-keeping-a-signature": (alg_none_keeping_a_signature, INVALID),
    "hs256-signed-with-the-rsa-public-key": (confusion, INVALID),
    "rs256-signed-by-another-key": (rs256(other_key=True), INVALID),
    "hs256-wrong-secret": (hs256(secret=OTHER_SECRET), INVALID),
    "hs512-not-configured": (hs256(alg="HS512"), INVALID),
    "alg-lowercase": (hand_signed(alg="hs256"), INVALID),
    "tampered-claims": (tampered, INVALID),
    "crit-header": (lambda forge: jwt.encode(forge.claims(), SECRET, headers={"crit": ["exp"]}), INVALID),
    # time
    "expired": (hs256(exp=FromNow(-60)), EXPIRED),
    # exp is this very second: python-jose, comparing whole seconds, let it through until the next.
    "expired-this-second": (lambda forge: hs256(exp=int(time.time()))(forge), EXPIRED),
    "expired-rs256": (rs256(exp=FromNow(-60)), EXPIRED),
    "not-yet-valid": (hs256(nbf=FromNow(600)), INVALID),
    "no-exp": (hs256(exp=None), INVALID),
    "exp-string": (hs256(exp=str(later(3600))), INVALID),
    "exp-true": (hand_signed(exp=True), INVALID),
    "exp-infinity": (time_claim("exp", "Infinity"), INVALID),
    "exp-nan": (time_claim("exp", "NaN"), INVALID),
    "exp-beyond-any-float": (time_claim("exp", "9" * 400), INVALID),
    "nbf-minus-infinity": (time_claim("nbf", "-Infinity"), INVALID),
    "iat-infinity": (time_claim("iat", "Infinity"), INVALID),
    # issuer and audience
    "wrong-iss": (hs256(iss="https://evil.test"), INVALID),
    "missing-iss": (hs256(iss=None), INVALID),
    "wrong-aud": (hs256(aud="another-app"), INVALID),
    "missing-aud": (hs256(aud=None), INVALID),
    "rs256-wrong-aud": (rs256(aud="another-app"), INVALID),
    # subject
    "missing-sub": (hs256(sub=None), INVALID),
    "empty-sub": (hs256(sub=""), INVALID),
    "blank-sub": (hs256(sub="   "), INVALID),
    "numeric-sub": (hs256(sub=42), INVALID),
    "list-sub": (hs256(sub=["mallory"]), INVALID),
    "object-sub": (hs256(sub={"id": "mallory"}), INVALID),
    "sub-with-nul": (hs256(sub="mallory\x00admin"), INVALID),
    "sub-with-newline": (hs256(sub="mallory\nadmin"), INVALID),
    "sub-lone-surrogate": (hand_signed(sub="mallory\ud800"), INVALID),
    "sub-over-200-chars": (hs256(sub="m" * 201), INVALID),
    # invisible characters: a second user who looks exactly like someone else
    "sub-with-rtl-override": (hs256(sub="alice\u202e"), INVALID),
    "sub-with-zero-width-space": (hs256(sub="ali\u200bce"), INVALID),
    "sub-with-bom": (hs256(sub="\ufeffalice"), INVALID),
    "sub-with-line-separator": (hs256(sub="alice\u2028"), INVALID),
    # size and shape
    "huge-but-validly-signed": (hs256(padding="x" * 20_000), INVALID),
    "huge-garbage": (raw("a" * 60_000), INVALID),
    "garbage": (raw("not-a-jwt"), INVALID),
    "two-segments": (lambda forge: hs256()(forge).rsplit(".", 1)[0], INVALID),
    "four-segments": (lambda forge: hs256()(forge) + ".extra", INVALID),
    "bad-base64": (lambda forge: "!!!." + hs256()(forge).split(".", 1)[1], INVALID),
}


# ---- the stack -------------------------------------------------------------------------


@pytest.fixture
def forge(issuer_keys: RsaKeys, other_keys: RsaKeys) -> Forge:
    return Forge(issuer=issuer_keys, other=other_keys, sub=f"mallory-{uuid.uuid4().hex[:8]}")


# One stack for the module (its tests only read it, each as a user of its own).
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def strict(postgres_url: str, issuer_keys: RsaKeys) -> AsyncIterator[Stack]:
    """RS256 (the identity provider's key) and HS256, issuer and audience, on every service."""
    jwt_settings = {
        "jwt_algorithms": ["RS256", "HS256"],
        "jwt_public_key": issuer_keys.public_pem,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
    }
    async with secured(postgres_url, jwt=jwt_settings) as running:
        yield running


# A handshake header line longer than this is refused with HTTP 431 before Socket.IO sees it.
HEADER_LINE_LIMIT = 8 * 1024
TRANSPORT_REFUSED = "refused by the transport"


async def refusal(url: str, **connect: Any) -> str:
    """Connect expecting a refusal: the connect_error's message (its code), or TRANSPORT_REFUSED."""
    client = SocketClient(reconnection=False)
    errors: asyncio.Queue[Any] = asyncio.Queue()

    @client.sio.event
    async def connect_error(data: Any) -> None:
        errors.put_nowait(data)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, **connect)
    await client.close()
    # python-socketio runs connect_error before connect() raises; a transport failure
    # gives it a plain string, a Socket.IO refusal our {"message", "data"} object.
    data = errors.get_nowait()
    if not isinstance(data, dict):
        return TRANSPORT_REFUSED
    assert data["data"]["code"] == data["message"]
    message: str = data["message"]
    return message


async def conversations_of(stack: Stack, user_id: str) -> list[str]:
    listed = await stack.http.get("/api/conversations", headers=stack.auth(user_id))
    assert listed.status_code == 200
    return [c["id"] for c in listed.json()["conversations"]]


# ---- the cases -----------------------------------------------------------------------


@pytest.mark.parametrize("case", list(CASES))
async def test_refused_on_the_socket_handshake(strict: Stack, forge: Forge, case: str) -> None:
    make, code = CASES[case]
    token = make(forge)

    in_auth = await refusal(strict.url, auth={"token": token})
    in_header = await refusal(strict.url, headers={"Authorization": f"Bearer {token}"})

    assert in_auth == code
    assert in_header == (TRANSPORT_REFUSED if len(token) > HEADER_LINE_LIMIT else code)
    assert await conversations_of(strict, forge.sub) == []


@pytest.mark.parametrize("case", list(CASES))
async def test_refused_on_every_http_route(
    strict: Stack, forge: Forge, case: str, user: Callable[[str], str]
) -> None:
    make, _code = CASES[case]
    token = make(forge)
    # Mallory is even a member: only the token stands between her and the conversation.
    conversation = await strict.conversation(user("alice"), forge.sub)

    for method, path, body in http_routes(conversation):
        answer = await strict.http.request(
            method, path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 401, (method, path, answer.text)
        assert answer.json()["error"]["code"] == "unauthenticated"

    details = await strict.http.get(f"/api/conversations/{conversation}", headers=strict.auth(forge.sub))
    assert details.json()["lastSeq"] == 0
    assert {m["lastDeliveredSeq"] for m in details.json()["members"]} == {0}
    assert await conversations_of(strict, forge.sub) == [conversation]


# ---- the controls: the same stack takes good tokens ------------------------------------


@pytest.mark.parametrize(
    "maker",
    [hs256(), rs256(), hs256(nbf=FromNow(-10), iat=FromNow(-10)), rs256(aud=["other", AUDIENCE])],
    ids=["hs256", "rs256", "nbf-and-iat-past", "aud-list"],
)
async def test_valid_tokens_of_either_kind_are_accepted(
    strict: Stack, forge: Forge, maker: TokenMaker
) -> None:
    token = maker(forge)

    client = await strict.socket(token=token)
    created = await strict.http.post(
        "/api/conversations", json={"memberIds": []}, headers={"Authorization": f"Bearer {token}"}
    )

    assert created.status_code == 201
    synced = await client.call("messages:sync", {"conversationId": created.json()["id"]})
    assert synced["ok"] is True


async def test_a_token_in_the_query_string_is_never_read(strict: Stack, forge: Forge) -> None:
    token = hs256()(forge)

    for name in ("token", "access_token", "jwt"):
        answer = await strict.http.get("/api/conversations", params={name: token})
        assert answer.status_code == 401
        assert await refusal(f"{strict.url}?{name}={token}") == "auth_missing"


async def test_no_token_minting_outside_dev_mode(strict: Stack, forge: Forge) -> None:
    answer = await strict.http.post("/api/dev/token", json={"userId": forge.sub})

    assert answer.status_code == 404
