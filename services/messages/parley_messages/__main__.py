"""``parley-messages [serve|migrate]``: run the messages service on its own."""

from __future__ import annotations

import argparse

from parley_common.config import CONFIG_HELP, load_settings_or_exit
from parley_common.observability import configure_logging
from parley_common.serve import serve
from parley_messages.app import create_app
from parley_messages.config import MessagesSettings
from parley_messages.migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="parley-messages",
        description="Run the messages service (serve, the default), or bring the database to the "
        "newest schema (migrate).",
        epilog=CONFIG_HELP,
    )
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args()
    settings = load_settings_or_exit(MessagesSettings)
    configure_logging("messages", json_lines=settings.json_logs, level=settings.log_level)
    if args.command == "migrate":
        upgrade(settings.database_url)
        return
    serve(create_app(settings), host=settings.host, port=settings.port, metrics_port=settings.metrics_port)


if __name__ == "__main__":
    main()
