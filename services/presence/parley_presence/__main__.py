"""``parley-presence``: run the presence service on its own."""

from __future__ import annotations

import uvicorn

from parley_common.config import load_settings_or_exit
from parley_presence.app import create_app
from parley_presence.config import PresenceSettings


def main() -> None:
    settings = load_settings_or_exit(PresenceSettings)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
