"""Dev tokens, readiness, and what a database outage looks like to clients."""

from __future__ import annotations

import socket

from parley_common.auth import TokenVerifier
from tests.messages.conftest import make_settings, serve
from tests.support.refusing_postgres import refusing_postgres


async def test_dev_tokens_only_in_dev_mode(sqlite_url: str) -> None:
    async with serve(make_settings(sqlite_url)) as api:
        refused = await api.client.post("/api/dev/token", json={"userId": "alice"})
        assert refused.status_code == 404
    async with serve(make_settings(sqlite_url, dev_mode=True)) as api:
        issued = await api.client.post("/api/dev/token", json={"userId": "alice"})
        assert issued.status_code == 200
        principal = TokenVerifier(api.settings).verify(issued.json()["token"])
        assert principal.user_id == "alice"
        listed = await api.client.get(
            "/api/conversations", headers={"Authorization": f"Bearer {issued.json()['token']}"}
        )
        assert listed.status_code == 200
        empty = await api.client.post("/api/dev/token", json={"userId": ""})
        assert empty.status_code == 422


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_database_outage_is_503_not_500() -> None:
    dead = f"postgresql://postgres@127.0.0.1:{_closed_port()}/nothing"
    async with serve(make_settings(dead, db_timeout_s=1.0)) as api:
        assert (await api.client.get("/healthz")).status_code == 200
        ready = await api.client.get("/readyz")
        assert ready.status_code == 503
        listed = await api.client.get("/api/conversations", headers=api.auth("alice"))
        assert listed.status_code == 503
        assert listed.json()["error"]["code"] == "unavailable"
        sent = await api.send("alice", "some-conversation")
        assert sent.status_code == 503


async def test_a_database_starting_up_or_shutting_down_is_503_not_500() -> None:
    # What every new connection gets while PostgreSQL restarts (SQLSTATE 57P03).
    async with refusing_postgres() as url, serve(make_settings(url, db_timeout_s=1.0)) as api:
        listed = await api.client.get("/api/conversations", headers=api.auth("alice"))
        assert (listed.status_code, listed.json()["error"]["code"]) == (503, "unavailable")
        send = {"userId": "alice", "conversationId": "c", "clientMessageId": "k", "body": "hi"}
        batch = await api.client.post(
            "/internal/v1/messages/batch", json={"sends": [send]}, headers=api.internal()
        )
        assert (batch.status_code, batch.json()["error"]["code"]) == (503, "unavailable")


async def test_ready_when_the_database_answers(postgres_url: str) -> None:
    async with serve(make_settings(postgres_url)) as api:
        assert (await api.client.get("/readyz")).json() == {"ok": True}
