"""A join is answered only once the gateway hears the room (real Redis, behind a proxy we can
silence)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis

from parley_common import bus as bus_module
from parley_common.bus import RedisBus
from parley_common.channels import ROOM_EVENTS, Router
from parley_common.errors import Unavailable
from parley_gateway.fanout import RoomFeed
from parley_gateway.rooms import conversation_room
from tests.support.faulty_proxy import FaultyProxy


async def test_a_room_is_refused_when_redis_does_not_confirm_its_subscription(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bus_module, "CONFIRM_WAIT_S", 0.5)  # the bound, not a pause
    target = urlsplit(redis_url)
    async with FaultyProxy(target.port or 6379).running() as proxy:
        client = aioredis.Redis(host="127.0.0.1", port=proxy.port, db=int(target.path.strip("/") or 0))
        try:
            async with RedisBus(client, prefix=redis_prefix).listen() as subscription:
                assert await subscription.add(ROOM_EVENTS)
                feed = RoomFeed(subscription, Router())
                await feed.enter(conversation_room("heard"))
                assert feed.channels == 1

                proxy.blackhole()  # Redis never answers the next SUBSCRIBE
                with pytest.raises(Unavailable):
                    await feed.enter(conversation_room("not-heard"))
                assert feed.channels == 1, "the refused room is not counted as entered"
                proxy.cut()
        finally:
            await client.aclose()
