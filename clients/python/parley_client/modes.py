"""Per-feature transports (PROTOCOL §7): what the app asks for, capped by the server's config.

``messages``: ``"socket"`` or ``"http"``; ``typing``: ``"socket"`` or ``"off"``; ``presence``:
``"socket"`` or ``"http"``. The server's ``GET /api/client-config`` is a ceiling: a feature it
sets to ``http`` / ``off`` is used that way even when the app asked for ``socket``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

MessagesMode = Literal["socket", "http"]
TypingMode = Literal["socket", "off"]
PresenceMode = Literal["socket", "http"]

DEFAULT_POLL_INTERVAL_S = 3.0
_CHOICES: dict[str, tuple[str, str]] = {  # feature → (its socket value, its fallback)
    "messages": ("socket", "http"),
    "typing": ("socket", "off"),
    "presence": ("socket", "http"),
}


@dataclass(frozen=True)
class Modes:
    """How each feature goes: ``Modes(messages="http", typing="off", presence="http")`` is an
    app on HTTP polling alone; the default is Socket.IO for all three."""

    messages: MessagesMode = "socket"
    typing: TypingMode = "socket"
    presence: PresenceMode = "socket"

    def __post_init__(self) -> None:
        for feature, allowed in _CHOICES.items():
            if getattr(self, feature) not in allowed:
                raise ValueError(f"{feature} must be one of {allowed}, not {getattr(self, feature)!r}")

    def capped_by(self, ceiling: Modes) -> Modes:
        """Socket only where both this and ``ceiling`` say socket."""
        return Modes(
            messages="socket" if self.messages == ceiling.messages == "socket" else "http",
            typing="socket" if self.typing == ceiling.typing == "socket" else "off",
            presence="socket" if self.presence == ceiling.presence == "socket" else "http",
        )

    @property
    def uses_socket(self) -> bool:
        """Whether any feature needs the Socket.IO connection."""
        return "socket" in (self.messages, self.typing, self.presence)

    @property
    def polls(self) -> bool:
        """Whether anything is polled over HTTP (typing ``off`` is not)."""
        return "http" in (self.messages, self.presence)


SOCKETS = Modes()
HTTP_ONLY = Modes(messages="http", typing="off", presence="http")


@dataclass(frozen=True)
class ServerConfig:
    """The answer of ``GET /api/client-config``."""

    features: Modes = SOCKETS
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S

    @classmethod
    def from_wire(cls, data: Any) -> ServerConfig:
        """Parse the answer; a value this SDK does not know counts as the fallback (a newer
        server's new setting must never turn a feature on)."""
        features = data.get("features") if isinstance(data, dict) else None
        features = features if isinstance(features, dict) else {}
        chosen: dict[str, Any] = {
            feature: socket if features.get(feature, socket) == socket else fallback
            for feature, (socket, fallback) in _CHOICES.items()
        }
        interval = data.get("httpPollIntervalMs") if isinstance(data, dict) else None
        seconds = interval / 1000 if isinstance(interval, int) and interval > 0 else DEFAULT_POLL_INTERVAL_S
        return cls(features=Modes(**chosen), poll_interval_s=seconds)
