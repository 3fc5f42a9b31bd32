"""PROTOCOL §4.2's send limit as clients meet it: one budget per user, whichever gateway (and
device) the sends come through."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from tests.gateway.conftest import Stack, both_topologies, message_payload

SENDS_PER_DEVICE = 15  # under MAX_EVENTS_IN_FLIGHT (16): every send is answered by the limit


@both_topologies
async def test_a_users_devices_on_every_gateway_share_one_limit(
    stack: Stack, user: Callable[[str], str]
) -> None:
    alice = user("alice")
    conversation = await stack.conversation(alice)
    devices = [await stack.socket(alice), await stack.socket(alice, gateway=1)]
    loop = asyncio.get_running_loop()

    started = loop.time()
    acks = await asyncio.gather(
        *(device.call("message:send", message_payload(conversation)) for device in devices * SENDS_PER_DEVICE)
    )
    span_s = loop.time() - started

    stored = [ack for ack in acks if ack["ok"]]
    limited = [ack["error"] for ack in acks if not ack["ok"]]
    # At most 10 in any sliding second, so at most 10 per started second of the burst; a
    # limit per gateway (or per process) would have let each device store its own 10.
    assert 0 < len(stored) <= 10 * (math.floor(span_s) + 1), (len(stored), span_s)
    assert limited and all(e["code"] == "rate_limited" and 0 < e["retryAfterMs"] <= 1000 for e in limited)
    synced = await devices[1].call("messages:sync", {"conversationId": conversation})
    assert len(synced["messages"]) == len(stored)
