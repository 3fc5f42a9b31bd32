"""``parley-gateway``: run the gateway on its own."""

from __future__ import annotations

from parley_common.config import build_or_exit, load_settings_or_exit, parse_command_line
from parley_common.observability import configure_logging
from parley_common.serve import serve
from parley_gateway.app import create_app
from parley_gateway.config import GatewaySettings


def main() -> None:
    parse_command_line("parley-gateway", "Run a Socket.IO gateway (clients connect here).")
    settings = load_settings_or_exit(GatewaySettings)
    configure_logging("gateway", json_lines=settings.json_logs, level=settings.log_level)
    app = build_or_exit(lambda: create_app(settings))
    serve(
        app,
        host=settings.host,
        port=settings.port,
        metrics_port=settings.metrics_port,
        before_shutdown=app.state.drain.start,
        stop_timeout_s=settings.stop_timeout_s,
        **settings.server_options(),
    )


if __name__ == "__main__":
    main()
