"""Socket.IO rooms across gateways, over Redis pub/sub, recovering within a second.

python-socketio's own ``AsyncRedisManager`` waits 1, 2, 4 … up to 60 s between attempts
to subscribe again once Redis went away, so after a Redis restart a gateway could relay
no typing, and report unready, for up to a minute after Redis was back; it also opens a
new client on each failure and, on a failed publish, swaps out the pubsub the readiness
check looks at. This one is python-socketio's pub/sub manager on the gateway's own Redis
pool: the subscription is redis-py's, which subscribes again by itself whenever its
connection comes back, and a broken read is retried every ``RETRY_S``. The channel and
message format are python-socketio's, so it interoperates with ``AsyncRedisManager``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from socketio.async_pubsub_manager import AsyncPubSubManager

log = logging.getLogger(__name__)

RETRY_S = 0.5
READ_WAIT_S = 1.0  # a bounded read: the pool's socket_timeout would cut a blocking one


class RedisManager(AsyncPubSubManager):
    name = "parley-redis"

    def __init__(self, client: aioredis.Redis, *, channel: str) -> None:
        super().__init__(channel=channel)
        self.redis = client
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.listening = False  # subscribed and reading: the gateway's readiness

    async def _publish(self, data: Any) -> None:
        try:
            await self.redis.publish(self.channel, self.json.dumps(data))
        except RedisError as exc:
            # Only what spans gateways goes here (typing, rooms of another gateway's
            # sockets): best effort, like python-socketio's own manager.
            log.warning("could not publish on the Socket.IO channel: %s", exc)

    async def _listen(self) -> AsyncIterator[Any]:
        while True:
            try:
                if not self.pubsub.subscribed:
                    await self.pubsub.subscribe(self.channel)
                message = await self.pubsub.get_message(timeout=READ_WAIT_S)
            except RedisError as exc:
                if self.listening:
                    log.warning("Socket.IO channel interrupted (%s); subscribing again", exc)
                self.listening = False
                await asyncio.sleep(RETRY_S)
                continue
            self.listening = True
            if message is not None and message.get("type") == "message":
                yield message["data"]

    async def close(self) -> None:
        self.listening = False
        await self.pubsub.aclose()
