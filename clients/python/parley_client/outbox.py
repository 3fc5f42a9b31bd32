"""Sends not yet acknowledged, in the order they were made; optionally kept on disk.

With a SQLite file (``ParleyClient(outbox_path=...)``) a send survives a restart of the
app: it is loaded at start and sent again with the same ``clientMessageId``, which the
server answers as a duplicate if it had stored it already.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiosqlite


@dataclass(frozen=True)
class OutboxItem:
    conversation_id: str
    client_message_id: str
    body: str


class OutboxStorage(Protocol):
    async def load(self) -> list[OutboxItem]: ...

    async def add(self, item: OutboxItem) -> None: ...

    async def remove(self, client_message_id: str) -> None: ...

    async def close(self) -> None: ...


class MemoryOutboxStorage:
    async def load(self) -> list[OutboxItem]:
        return []

    async def add(self, item: OutboxItem) -> None:
        return None

    async def remove(self, client_message_id: str) -> None:
        return None

    async def close(self) -> None:
        return None


class SqliteOutboxStorage:
    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._db: aiosqlite.Connection | None = None

    async def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            self._db = await aiosqlite.connect(self._path)
            await self._db.execute(
                "CREATE TABLE IF NOT EXISTS outbox (position INTEGER PRIMARY KEY AUTOINCREMENT, "
                "client_message_id TEXT UNIQUE NOT NULL, conversation_id TEXT NOT NULL, body TEXT NOT NULL)"
            )
            await self._db.commit()
        return self._db

    async def load(self) -> list[OutboxItem]:
        db = await self._conn()
        async with db.execute(
            "SELECT conversation_id, client_message_id, body FROM outbox ORDER BY position"
        ) as rows:
            return [OutboxItem(*row) async for row in rows]

    async def add(self, item: OutboxItem) -> None:
        db = await self._conn()
        await db.execute(
            "INSERT OR IGNORE INTO outbox (client_message_id, conversation_id, body) VALUES (?, ?, ?)",
            (item.client_message_id, item.conversation_id, item.body),
        )
        await db.commit()

    async def remove(self, client_message_id: str) -> None:
        db = await self._conn()
        await db.execute("DELETE FROM outbox WHERE client_message_id = ?", (client_message_id,))
        await db.commit()

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None


class Outbox:
    def __init__(self, storage: OutboxStorage | None = None) -> None:
        self._storage = storage or MemoryOutboxStorage()
        self._items: OrderedDict[str, OutboxItem] = OrderedDict()
        self._changed = asyncio.Event()

    async def load(self) -> list[OutboxItem]:
        items = await self._storage.load()
        for item in items:
            self._items[item.client_message_id] = item
        self._changed.set()
        return items

    async def put(self, item: OutboxItem) -> None:
        await self._storage.add(item)  # on disk before it is reported as queued
        self._items[item.client_message_id] = item
        self._changed.set()

    async def next(self) -> OutboxItem:
        """The oldest item (it stays queued until :meth:`remove`)."""
        while not self._items:
            self._changed.clear()
            await self._changed.wait()
        return next(iter(self._items.values()))

    async def remove(self, client_message_id: str) -> None:
        self._items.pop(client_message_id, None)
        await self._storage.remove(client_message_id)

    def __len__(self) -> int:
        return len(self._items)

    async def close(self) -> None:
        await self._storage.close()
