"""``parley-gateway``: run the gateway on its own."""

from __future__ import annotations

import sys

from parley_common.config import ConfigError, load_settings_or_exit
from parley_common.observability import configure_logging
from parley_common.serve import serve
from parley_gateway.app import create_app
from parley_gateway.config import GatewaySettings


def main() -> None:
    settings = load_settings_or_exit(GatewaySettings)
    configure_logging("gateway", json_lines=settings.json_logs, level=settings.log_level)
    try:
        app = create_app(settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    serve(
        app,
        host=settings.host,
        port=settings.port,
        before_shutdown=app.state.drain.start,
        ws_max_size=settings.max_packet_bytes,
        # Bounds the wait for long-polling requests after the drain.
        timeout_graceful_shutdown=settings.drain_timeout_s + 5,
    )


if __name__ == "__main__":
    main()
