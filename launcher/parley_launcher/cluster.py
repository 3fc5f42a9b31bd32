"""``parley-cluster`` (``make cluster``): the production topology on one machine.

Separate processes on the local PostgreSQL and Redis, in the foreground: the messages
service, presence, and GATEWAYS gateways on PORT, PORT+1, … Messages listens on PORT+100
and presence on PORT+101; each gateway forwards ``/api`` to messages (API_PROXY_URL), so
any gateway URL serves the socket and the HTTP API, as the ingress does in Kubernetes.
The launcher supervises them (``supervisor.py``): one that exits is started again and the
rest keep serving; Ctrl-C (or SIGTERM) stops them all, the gateways first.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

import asyncpg
from sqlalchemy.engine import make_url

from parley_common.config import DEV_INTERNAL_TOKEN, DEV_JWT_SECRET, parse_command_line
from parley_launcher.supervisor import Program, Supervisor
from parley_messages.migrate import upgrade

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/parley"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
MESSAGES_OFFSET, PRESENCE_OFFSET = 100, 101
METRICS_OFFSET = 1000  # each process's /metrics: its port + 1000


@dataclass(frozen=True)
class Service:
    name: str
    module: str
    port: int
    env: dict[str, str]


def plan(environ: dict[str, str]) -> list[Service]:
    """The processes to start, with their environment (pure: testable without starting any)."""
    port = int(environ.get("PORT", "8000"))
    gateways = int(environ.get("GATEWAYS", "2"))
    if not 1 <= gateways <= 50:
        raise SystemExit("GATEWAYS must be between 1 and 50")
    base = dict(environ)
    base.setdefault("DEV_MODE", "true")
    base.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    base.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    if base["DEV_MODE"].lower() in ("1", "true", "yes"):
        # One secret for every process, or tokens minted by one are refused by another.
        base.setdefault("JWT_SECRET", DEV_JWT_SECRET)
        base.setdefault("INTERNAL_TOKEN", DEV_INTERNAL_TOKEN)
    messages_url = f"http://127.0.0.1:{port + MESSAGES_OFFSET}"
    services = [
        Service(
            "messages", "parley_messages", port + MESSAGES_OFFSET, _metrics_at(base, port + MESSAGES_OFFSET)
        ),
        Service(
            "presence", "parley_presence", port + PRESENCE_OFFSET, _metrics_at(base, port + PRESENCE_OFFSET)
        ),
    ]
    for index in range(gateways):
        env = _metrics_at(base, port + index) | {
            "MESSAGES_URL": messages_url,
            "API_PROXY_URL": messages_url,
        }
        services.append(Service(f"gateway-{index + 1}", "parley_gateway", port + index, env))
    return services


def _metrics_at(env: dict[str, str], port: int) -> dict[str, str]:
    """``env`` with the METRICS_PORT of the process on ``port`` (METRICS_PORT=0 keeps it off)."""
    off = env.get("METRICS_PORT") == "0"
    return env | {"METRICS_PORT": "0" if off else str(port + METRICS_OFFSET)}


async def ensure_database(url: str) -> None:
    """Create the database of a local PostgreSQL if it does not exist yet."""
    parsed = make_url(url).set(drivername="postgresql")
    name = parsed.database
    admin = await asyncpg.connect(parsed.set(database="postgres").render_as_string(hide_password=False))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def main() -> None:
    parse_command_line(
        "parley-cluster",
        "Run messages, presence and GATEWAYS (2) gateways as separate processes on the local "
        "PostgreSQL and Redis (make cluster).",
    )
    services = plan(dict(os.environ))
    database_url = services[0].env["DATABASE_URL"]
    if database_url.startswith(("postgres://", "postgresql")):
        asyncio.run(ensure_database(database_url))
    upgrade(database_url)
    status = asyncio.run(Supervisor(programs(services)).run(on_up=lambda: _print_banner(services)))
    raise SystemExit(status)


def programs(services: list[Service]) -> list[Program]:
    """What the supervisor keeps running: the gateways are stopped first (they drain)."""
    return [
        Program(
            s.name,
            s.module,
            s.port,
            s.env,
            stop_first=s.module == "parley_gateway",
            probe_host=_probe_host(s.env.get("HOST", "")),
        )
        for s in services
    ]


def _probe_host(host: str) -> str:
    """Where the launcher reaches a process listening on HOST."""
    if host in ("", "0.0.0.0", "::", "localhost"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _print_banner(services: list[Service]) -> None:
    gateways = [s for s in services if s.module == "parley_gateway"]
    first = f"http://127.0.0.1:{gateways[0].port}"
    lines = ["", "Parley cluster:"]
    lines += [f"  {s.name:<10} http://127.0.0.1:{s.port}" for s in services]
    lines += [
        f"  connect clients to any gateway (e.g. {first})",
        "  a process that exits is started again (after 0.5 s, doubling to 5 s); Ctrl-C stops everything",
        f"  dev token: curl -s -X POST {first}/api/dev/token -H 'content-type: application/json' "
        '-d \'{"userId": "alice"}\'',
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
