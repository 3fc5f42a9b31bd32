"""``parley`` (or ``parley serve``): run the embedded default (all three services in one
process); ``parley chat|token|send``: the terminal client (``parley_client.cli``).

Arguments are parsed before any setting is read, so ``--help`` of every command works with
no configuration at all; settings are read (and a bad one reported by name) only to serve.
"""

from __future__ import annotations

import argparse
import ipaddress

from parley_common.config import load_settings_or_exit
from parley_common.observability import configure_logging
from parley_common.serve import serve
from parley_gateway.config import GatewaySettings
from parley_launcher.compose import EmbeddedApp, EmbeddedSettings
from parley_messages.config import MessagesSettings
from parley_messages.migrate import upgrade
from parley_presence.config import PresenceSettings


def banner(settings: EmbeddedSettings) -> str:
    messages = settings.messages
    local = is_loopback(messages.host)
    shown = messages.host if local or messages.host not in ("0.0.0.0", "::") else "127.0.0.1"
    url = f"http://{_url_host(shown)}:{messages.port}"
    lines = ["", f"Parley (embedded) is up at {url}"]
    if not local:
        lines.append(f"  listening on {messages.host} port {messages.port}: reachable from other machines")
    lines += [
        f"  database: {messages.database_url}",
        f"  bus, presence, rate limits: {'Redis' if messages.uses_redis else 'in this process'}",
    ]
    if messages.metrics_port:
        lines.append(f"  metrics: http://{_url_host(shown)}:{messages.metrics_port}/metrics")
    if settings.gateway.web_ui:
        lines.append(f"  chat page: {url}/")
    if messages.dev_mode:
        lines += [
            f"  API docs: {url}/docs",
            "  get a dev token:",
            f"    curl -s -X POST {url}/api/dev/token -H 'content-type: application/json' "
            '-d \'{"userId": "alice"}\'',
        ]
        if not local:
            lines += [
                "",
                "  WARNING: DEV_MODE is on and this server is reachable from other machines: anyone who",
                "  can reach it can sign in as anyone (POST /api/dev/token mints a token for any user).",
                "  Use it on a network you trust, or set HOST=127.0.0.1, or turn DEV_MODE off.",
            ]
    return "\n".join(lines) + "\n"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


SERVE_HELP = """\
Configuration is read from environment variables (README.md, Configuration, lists them):
DEV_MODE=true for local development (dev tokens, development secrets); otherwise at least
JWT_SECRET (or JWT_ALGORITHMS=RS256 and JWT_PUBLIC_KEY) and INTERNAL_TOKEN. DATABASE_URL
(default: SQLite in ./var), REDIS_URL (default: none, all in this process), PORT (8000).
"""


def parser() -> argparse.ArgumentParser:
    from parley_client.cli import add_commands

    root = argparse.ArgumentParser(
        prog="parley",
        description="Parley: run the server (the default command) or chat from the terminal.",
        epilog="`parley COMMAND --help` describes each command.",
    )
    commands = root.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "serve",
        help="run all three services in one process (the default)",
        description="Run the messages service, presence and the gateway in one process: the "
        "embedded default (`make run`).",
        epilog=SERVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_commands(commands)
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command in (None, "serve"):
        serve_embedded()
        return
    from parley_client.cli import run  # the client side, from the Python SDK

    run(args)


def serve_embedded() -> None:
    settings = EmbeddedSettings(
        messages=load_settings_or_exit(MessagesSettings),
        gateway=load_settings_or_exit(GatewaySettings),
        presence=load_settings_or_exit(PresenceSettings),
    )
    configure_logging("parley", json_lines=settings.messages.json_logs, level=settings.messages.log_level)
    # Before the event loop starts: Alembic's env runs its own loop.
    upgrade(settings.messages.database_url)
    app = EmbeddedApp(settings)
    serve(
        app,
        host=settings.messages.host,
        port=settings.messages.port,
        metrics_port=settings.messages.metrics_port,
        before_shutdown=app.gateway.state.drain.start,
        stop_timeout_s=settings.gateway.stop_timeout_s,
        # Once the port is open, so that the URL it shows answers.
        on_started=lambda: print(banner(settings), flush=True),
        **settings.gateway.server_options(),
    )


if __name__ == "__main__":
    main()
