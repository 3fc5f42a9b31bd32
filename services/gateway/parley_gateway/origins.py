"""Which browser pages may open a socket: the Origin check of the Engine.IO handshake.

Policy: a page from the gateway's own origin always may; so may the origins listed in
CORS_ORIGINS (``*``: any, then without ``Access-Control-Allow-Credentials``, so that no
page's cookies ride along). With CORS_ORIGINS empty in DEV_MODE, pages served from this
machine or the local network may too (a dev server on another port, a phone on the same
Wi-Fi), and nothing else: a foreign site is never answered as if it were trusted, and never
with credentials. Clients that send no Origin (native apps, servers) are not affected.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit


class OriginPolicy:
    def __init__(self, origins: list[str], *, dev_mode: bool) -> None:
        self._origins = frozenset(origins)
        self._any = "*" in self._origins
        self._local = dev_mode and not origins

    @property
    def credentials(self) -> bool:
        """Whether answers may carry ``Access-Control-Allow-Credentials: true``."""
        return not self._any

    def __call__(self, origin: str | None, environ: dict[str, Any]) -> bool:
        """python-engineio's ``cors_allowed_origins`` hook: may ``origin`` connect?"""
        if origin is None or self._any or origin in self._origins:
            return True
        netloc = urlsplit(origin).netloc
        if netloc and netloc in _own_hosts(environ):
            return True
        return self._local and is_local_host(urlsplit(origin).hostname)


def _own_hosts(environ: dict[str, Any]) -> set[str]:
    hosts = {environ.get("HTTP_HOST", "")}
    forwarded = environ.get("HTTP_X_FORWARDED_HOST")
    if forwarded:
        hosts.add(forwarded.split(",")[0].strip())
    return hosts


def is_local_host(hostname: str | None) -> bool:
    """localhost, or an address of this machine or a private network."""
    if not hostname:
        return False
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local
