"""orjson behind the ``json=`` hook of python-socketio/engineio: many times faster than json.

The hook calls ``dumps(obj, separators=...)`` and expects ``str``. orjson also refuses
integers beyond 64 bits and NaN, which closes a cheap denial-of-service door the standard
library leaves open. One thing orjson refuses is valid JSON that clients do send: a lone
UTF-16 surrogate escape (``"\\ud83d"``, a JS string cut inside an emoji). Such a packet is
parsed by the standard library instead (still without NaN or Infinity), so that the event
is answered ``invalid_payload`` rather than dropped with its ack.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


class OrjsonCodec:
    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(data: str | bytes, **_: Any) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            if "surrogate" not in str(exc):
                raise
        return json.loads(data, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
