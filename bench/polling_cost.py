"""What an idle client costs the server in HTTP requests, per migration mode (docs/migration.md).

    make run   # or any Parley with DEV_MODE (dev tokens) and /metrics on METRICS_PORT
    .venv/bin/python bench/polling_cost.py --url http://127.0.0.1:8000 \
        --metrics http://127.0.0.1:9090/metrics --seconds 60

For each mode in turn, ``--clients`` idle Python SDK clients follow one conversation each for
``--seconds`` on the real clock; the messages service's request counters (``/metrics``) before
and after give the requests per minute per idle client, by route. Prints one JSON line per mode.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid

import httpx
from parley_client import ParleyClient
from parley_client.modes import HTTP_ONLY, Modes
from prometheus_client.parser import text_string_to_metric_families

MODES = {
    "http": HTTP_ONLY,
    "mixed (presence over http)": Modes(messages="socket", typing="socket", presence="http"),
    "socket": Modes(),
}
COUNTERS = {
    "GET …/messages": ("parley_messages_syncs_total", {"transport": "http"}),
    "GET /api/conversations/{id}": ("parley_messages_conversation_reads_total", {}),
    "GET /api/client-config": ("parley_messages_client_config_reads_total", {}),
    "messages:sync (socket)": ("parley_messages_syncs_total", {"transport": "socket"}),
}


async def scrape(http: httpx.AsyncClient, url: str) -> dict[str, float]:
    text = (await http.get(url)).text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return {
        route: samples.get((name, tuple(sorted(labels.items()))), 0.0)
        for route, (name, labels) in COUNTERS.items()
    }


async def measure(url: str, metrics: str, modes: Modes, clients: int, seconds: float) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=url) as http:
        tokens = {}
        for n in range(clients):
            user = f"idle-{n}-{uuid.uuid4().hex[:6]}"
            tokens[user] = (await http.post("/api/dev/token", json={"userId": user})).json()["token"]
        started = []
        for token in tokens.values():

            async def provider(token: str = token) -> str:
                return token

            client = ParleyClient(url, token_provider=provider, modes=modes)
            await client.start()
            auth = {"Authorization": f"Bearer {token}"}
            conversation = (
                await http.post("/api/conversations", json={"memberIds": []}, headers=auth)
            ).json()
            await client.open(conversation["id"])
            started.append(client)
        await asyncio.sleep(1)  # past the first open's reads
        before = await scrape(http, metrics)
        await asyncio.sleep(seconds)
        after = await scrape(http, metrics)
        for client in started:
            await client.close()
    per_minute = 60 / seconds / clients
    return {route: round((after[route] - before[route]) * per_minute, 2) for route in COUNTERS}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--metrics", default="http://127.0.0.1:9090/metrics")
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    for name, modes in MODES.items():
        cost = await measure(args.url, args.metrics, modes, args.clients, args.seconds)
        print(
            json.dumps(
                {"mode": name, "requests_per_minute_per_idle_client": cost, "total": sum(cost.values())}
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
