"""``parley-gateway``: run the gateway on its own."""

from __future__ import annotations

import uvicorn

from parley_common.config import load_settings_or_exit
from parley_gateway.app import create_app
from parley_gateway.config import GatewaySettings


def main() -> None:
    settings = load_settings_or_exit(GatewaySettings)
    # One worker per process: long-polling needs every request of a session on one process.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, workers=1)


if __name__ == "__main__":
    main()
