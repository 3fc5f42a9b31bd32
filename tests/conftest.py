"""Shared fixtures: the real PostgreSQL and Redis servers, each test run in its own keyspace.

DATABASE_URL and REDIS_URL name the servers (the local ones by default). A session gets
its own PostgreSQL database, created and migrated here and dropped at the end; Redis
keys and channels get a random prefix. Under CI=true an unreachable server fails the
test; elsewhere it is skipped, and the run ends with a loud summary of what was skipped and
why, so that a green run without PostgreSQL or Redis is never taken for a full one.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import Iterator

import asyncpg
import pytest
import redis
from sqlalchemy.engine import make_url

from parley_messages.migrate import upgrade
from tests.cluster.conftest import Cluster, cluster_environment, running_cluster

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "production: the production topology (separate processes on the real Redis) of a test"
    )


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unreachable(what: str, exc: BaseException) -> None:
    message = f"{what} is unreachable: {exc!r}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The very last lines of the run (after pytest's own counts): how many tests were
    skipped, for which reasons."""
    terminalreporter = config.pluginmanager.get_plugin("terminalreporter")
    if terminalreporter is None:
        return
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons = Counter(_skip_reason(report) for report in skipped)
    terminalreporter.write_sep("!", f"NOT A FULL RUN: {len(skipped)} test(s) skipped", red=True, bold=True)
    for reason, count in reasons.most_common():
        terminalreporter.write_line(f"  {count:>5} skipped: {reason}", red=True, bold=True)
    if not in_ci():
        terminalreporter.write_line(
            "  (under CI=true a server or tool these tests cannot reach fails them instead of skipping)",
            bold=True,
        )


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    reason = reason.removeprefix("Skipped: ")
    return reason if len(reason) <= 160 else reason[:157] + "..."


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if not url.startswith(("postgres://", "postgresql")):
        url = DEFAULT_DATABASE_URL
    return url


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(_server_url()), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A freshly migrated database of this test session on the real server."""
    name = f"parley_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        unreachable("PostgreSQL", exc)
    url = _asyncpg_dsn(_server_url(), name)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except (OSError, redis.RedisError) as exc:
        unreachable("Redis", exc)
    finally:
        client.close()
    return url


@pytest.fixture
def redis_prefix() -> str:
    """A keyspace of this test alone."""
    return f"parley-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def production_cluster(
    postgres_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """The production topology, shared by the client-facing suites' ``production`` cases:
    messages, presence and two gateways as processes on the real PostgreSQL and Redis, in
    DEV_MODE (the chat page signs in by name) with the tests' secrets, /api forwarded by the
    gateways. Started by the first test that needs it; every test uses its own user ids."""
    prefix = f"parley-test-{uuid.uuid4().hex[:10]}"
    env = cluster_environment(postgres_url=postgres_url, redis_url=redis_url, redis_prefix=prefix)
    log_dir = tmp_path_factory.mktemp("production")
    with running_cluster(env | {"DEV_MODE": "true"}, log_dir, api_proxy=True) as cluster:
        yield cluster
