"""Smaller doors (issue 15, finding 8): ids that look like someone else's, request ids taken
as given, and bodies that are not UTF-8."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.gateway.conftest import Stack

LOOKALIKES = ["alice\u202e", "ali\u200bce", "\u2066alice\u2069", "alice\u00ad", "\ufeffalice", "alice\u2029"]


@pytest.mark.parametrize("member", LOOKALIKES, ids=ascii)
async def test_member_ids_with_invisible_characters_are_refused(
    stack: Stack, user: Callable[[str], str], member: str
) -> None:
    owner = user("owner")
    answer = await stack.http.post(
        "/api/conversations", json={"memberIds": [member]}, headers=stack.auth(owner)
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_payload"


async def test_ids_in_other_scripts_are_still_fine(stack: Stack, user: Callable[[str], str]) -> None:
    owner = user("owner")
    members = ["amélie", "Зоя", "مريم", "李雷", "👩\u200d💻".replace("\u200d", "")]
    answer = await stack.http.post(
        "/api/conversations", json={"memberIds": members}, headers=stack.auth(owner)
    )
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("req-42.a:b_c", True),
        ("x" * 64, True),
        ("x" * 65, False),  # echoed at any length before
        ("has space", False),
        ("<script>", False),
    ],
)
async def test_a_request_id_is_taken_only_when_short_and_plain(stack: Stack, given: str, kept: bool) -> None:
    answer = await stack.http.get("/healthz", headers={"X-Request-ID": given})
    echoed = answer.headers["x-request-id"]
    assert (echoed == given) is kept
    if not kept:
        assert 16 <= len(echoed) <= 64 and echoed.isalnum()  # a fresh one


async def test_a_body_that_is_not_utf8_is_a_malformed_body(stack: Stack, user: Callable[[str], str]) -> None:
    answer = await stack.http.post(
        "/api/conversations",
        content=b'{"memberIds": ["\xff\xfe"]}',
        headers={**stack.auth(user("owner")), "Content-Type": "application/json"},
    )
    assert answer.status_code == 422  # PROTOCOL §5; it was 400
    assert answer.json()["error"]["code"] == "invalid_payload"
