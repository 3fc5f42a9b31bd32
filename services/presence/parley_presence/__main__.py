"""``parley-presence``: run the presence service on its own."""

from __future__ import annotations

from parley_common.config import build_or_exit, load_settings_or_exit, parse_command_line
from parley_common.observability import configure_logging
from parley_common.serve import serve
from parley_presence.app import create_app
from parley_presence.config import PresenceSettings


def main() -> None:
    parse_command_line("parley-presence", "Run the presence service (who is online where).")
    settings = load_settings_or_exit(PresenceSettings)
    configure_logging("presence", json_lines=settings.json_logs, level=settings.log_level)
    app = build_or_exit(lambda: create_app(settings))
    serve(app, host=settings.host, port=settings.port, metrics_port=settings.metrics_port)


if __name__ == "__main__":
    main()
