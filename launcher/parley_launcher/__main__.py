"""``parley``: run the embedded default (all three services in one process);
``parley chat|token|send``: the terminal client (``parley_client.cli``)."""

from __future__ import annotations

import sys

from parley_common.config import load_settings_or_exit
from parley_common.observability import configure_logging
from parley_common.serve import serve
from parley_gateway.config import GatewaySettings
from parley_launcher.compose import EmbeddedApp, EmbeddedSettings
from parley_messages.config import MessagesSettings
from parley_messages.migrate import upgrade
from parley_presence.config import PresenceSettings


def banner(settings: EmbeddedSettings) -> str:
    url = f"http://127.0.0.1:{settings.messages.port}"
    lines = [
        "",
        f"Parley (embedded) is up at {url}",
        f"  database: {settings.messages.database_url}",
        f"  bus, presence, rate limits: {'Redis' if settings.messages.redis_url else 'in this process'}",
        f"  API docs: {url}/docs",
    ]
    if settings.gateway.web_ui:
        lines.append(f"  chat page: {url}/")
    if settings.messages.dev_mode:
        lines += [
            "  get a dev token:",
            f"    curl -s -X POST {url}/api/dev/token -H 'content-type: application/json' "
            '-d \'{"userId": "alice"}\'',
        ]
    return "\n".join(lines) + "\n"


CLIENT_COMMANDS = {"chat", "token", "send"}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in CLIENT_COMMANDS:
        # `parley chat|token|send`: the client side, from the Python SDK.
        from parley_client.cli import main as client_main

        client_main(sys.argv[1:])
        return
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
        before_shutdown=app.gateway.state.drain.start,
        # Once the port is open, so that the URL it shows answers.
        on_started=lambda: print(banner(settings), flush=True),
        **settings.gateway.server_options(),
    )


if __name__ == "__main__":
    main()
