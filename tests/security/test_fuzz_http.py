"""Schemathesis against the messages service's OpenAPI document: the public API (with a
user's JWT) and the internal API (with INTERNAL_TOKEN). Whatever it generates, valid or
not: no 5xx, answers that match the document where it declares them, and nothing stored
that the wire models would not have accepted (checked after each operation's examples).

The service runs in a real uvicorn in a thread of its own (schemathesis' calls are
synchronous); its conversations are made by the fuzzing user, so that generated paths and
bodies often name real ones, and its own member ids.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from parley_common.auth import mint_token
from parley_messages.app import create_app
from tests.messages.conftest import INTERNAL_TOKEN, make_settings
from tests.security.conftest import assert_nothing_stored_is_garbage, fetch
from tests.support.ports import free_port
from tests.support.servers import uvicorn_serving

FUZZER = f"fuzzer-{uuid.uuid4().hex[:8]}"
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]


class Service:
    """The messages app on PostgreSQL, served from a thread with its own event loop."""

    def __init__(self, database_url: str) -> None:
        self.settings = make_settings(database_url)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with uvicorn_serving(create_app(self.settings), self.port):
            self._started.set()
            await self._stop.wait()

    def __enter__(self) -> Service:
        self._thread.start()
        assert self._started.wait(30), "the messages service did not start"
        return self

    def __exit__(self, *_: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def token(self, user_id: str) -> str:
        token, _ = mint_token(self.settings, user_id)
        return token


@pytest.fixture(scope="module")
def service(postgres_url: str) -> Iterator[Service]:
    with Service(postgres_url) as running:
        yield running


@pytest.fixture(scope="module")
def conversations(service: Service) -> list[str]:
    """The fuzzer's own conversations (one with a message), for generated ids to hit."""
    headers = {"Authorization": f"Bearer {service.token(FUZZER)}"}
    made = []
    with httpx.Client(base_url=service.url, headers=headers) as http:
        for members in ([], ["someone"]):
            made.append(http.post("/api/conversations", json={"memberIds": members}).json()["id"])
        http.post(f"/api/conversations/{made[1]}/messages", json={"clientMessageId": "seed", "body": "seed"})
    return made


@pytest.fixture
def then_nothing_stored_is_garbage(postgres_url: str, conversations: list[str]) -> Iterator[None]:
    """After every example of one operation (a function-scoped fixture wraps the whole
    Hypothesis run): each conversation the fuzzer made or joined holds only what the wire
    models allow. Checked by each test itself, so it holds whatever runs, in whatever order."""
    yield
    asyncio.run(_check_the_fuzzers_conversations(postgres_url, conversations))


async def _check_the_fuzzers_conversations(postgres_url: str, conversations: list[str]) -> None:
    rows = await fetch(
        postgres_url,
        "SELECT DISTINCT conversation_id FROM conversation_members WHERE user_id = $1",
        FUZZER,
    )
    touched = [row["conversation_id"] for row in rows]
    assert set(conversations) <= set(touched)
    await assert_nothing_stored_is_garbage(postgres_url, touched)


# The document the service serves at /openapi.json, built without serving it.
schema = schemathesis.openapi.from_dict(create_app(make_settings("sqlite:///unused.db")).openapi())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@schema.given(data=st.data())
def test_no_server_error_and_answers_as_documented(
    case: schemathesis.Case,
    data: st.DataObject,
    service: Service,
    conversations: list[str],
    then_nothing_stored_is_garbage: None,
) -> None:
    if "conversation_id" in (case.path_parameters or {}) and data.draw(st.booleans(), label="real id"):
        case.path_parameters["conversation_id"] = data.draw(st.sampled_from(conversations))
    if case.path.startswith("/internal/"):
        headers = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}
        if isinstance(case.body, dict) and data.draw(st.booleans(), label="acting as the fuzzer"):
            case.body["userId"] = FUZZER
    else:
        headers = {"Authorization": f"Bearer {service.token(FUZZER)}"}
    case.call_and_validate(base_url=service.url, headers=headers, checks=CHECKS)
