"""``parley-presence``: run the presence service on its own."""

from __future__ import annotations

import sys

from parley_common.config import ConfigError, load_settings_or_exit
from parley_common.observability import configure_logging
from parley_common.serve import serve
from parley_presence.app import create_app
from parley_presence.config import PresenceSettings


def main() -> None:
    settings = load_settings_or_exit(PresenceSettings)
    configure_logging("presence", json_lines=settings.json_logs, level=settings.log_level)
    try:
        app = create_app(settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    serve(app, host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
