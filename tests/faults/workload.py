"""The load every fault scenario runs under: the members of one conversation, each an SDK
client of its own, sending continuously while the fault happens.

Every send goes through :class:`parley_client.ParleyClient` exactly as an app's would
(optimistic message, ack wait, retries, offline queue, sync after reconnect). What the
SDK tells the app about each send is recorded, for the invariant checker to hold against
the database and against every member's store.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from parley_client import ConnectionState, Conversation, LocalMessage, MessageStatus, ParleyClient
from parley_client.errors import ParleyError
from parley_client.outbox import OutboxItem

from tests.client.conftest import until
from tests.cluster.conftest import Cluster

# The suite's size; ``make faults`` runs it larger (see the Makefile).
MEMBERS = int(os.environ.get("FAULTS_MEMBERS", "4"))
PACE_S = float(os.environ.get("FAULTS_PACE_S", "0.4"))  # each member sends one message per PACE_S
SCALE = int(os.environ.get("FAULTS_SCALE", "1"))  # each phase of a scenario waits SCALE times more acks


class RecordingClient(ParleyClient):
    """The SDK, keeping what it told the app about each send: acked (with the stored
    message) or failed."""

    def __init__(self, url: str, *, on_outcome: Callable[[], None], **options: Any) -> None:
        super().__init__(url, **options)
        self.acks: dict[str, dict[str, Any]] = {}  # clientMessageId → the message the ack returned
        self.failures: list[str] = []  # clientMessageIds reported failed (a retry may follow)
        self.failed_attempts = 0  # connection attempts that gave up
        self._on_outcome = on_outcome

    def _sent(self, item: OutboxItem, outcome: dict[str, Any] | ParleyError) -> None:
        if isinstance(outcome, ParleyError):
            self.failures.append(item.client_message_id)
        else:
            self.acks[item.client_message_id] = outcome["message"]
        super()._sent(item, outcome)
        self._on_outcome()


@dataclass
class Member:
    user_id: str
    client: RecordingClient
    conversation: Conversation
    sent: list[LocalMessage] = field(default_factory=list)  # in the order the app sent them


class Chat:
    """Members of one conversation, chatting through whatever URL they were given."""

    def __init__(self, cluster: Cluster, conversation_id: str) -> None:
        self.cluster = cluster
        self.conversation_id = conversation_id
        self.members: list[Member] = []
        self._senders: list[asyncio.Task[None]] = []
        self._progress = asyncio.Event()
        self.connects = 0  # every member's connections, the first ones included

    @property
    def reconnects(self) -> int:
        return self.connects - len(self.members)

    def _watch(self, client: RecordingClient) -> None:
        """Count connections, and connection attempts that failed (connecting → disconnected)."""
        last = [client.state]

        def changed(state: ConnectionState) -> None:
            if state == ConnectionState.CONNECTED:
                self.connects += 1
            elif state == ConnectionState.DISCONNECTED and last[0] == ConnectionState.CONNECTING:
                client.failed_attempts += 1
            last[0] = state
            self._progress.set()

        client.on_state_change(changed)

    # ---- set-up ------------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def running(cls, cluster: Cluster, url: str, *, size: int = MEMBERS) -> AsyncIterator[Chat]:
        """``size`` members connected through ``url``, joined, and sending until the end."""
        suffix = uuid.uuid4().hex[:8]
        users = [f"member{n}-{suffix}" for n in range(size)]
        chat = cls(cluster, await cluster.conversation(users[0], *users[1:]))
        async with AsyncExitStack() as stack:
            for user in users:
                client = RecordingClient(
                    url, token_provider=_tokens(cluster, user), on_outcome=chat._progress.set
                )
                chat._watch(client)
                await client.start()
                stack.push_async_callback(client.close)
                await client.wait_connected()
                chat.members.append(Member(user, client, await client.open(chat.conversation_id)))
            stack.push_async_callback(chat.stop_sending)
            chat._senders = [asyncio.create_task(chat._send_forever(m)) for m in chat.members]
            yield chat

    async def _send_forever(self, member: Member) -> None:
        for n in range(1_000_000):
            member.sent.append(await member.conversation.send(f"{member.user_id} #{n}"))
            await asyncio.sleep(PACE_S)  # the pace of a fast typist, not a synchronisation

    # ---- during the run ----------------------------------------------------------------------

    @property
    def acked(self) -> int:
        return sum(len(m.client.acks) for m in self.members)

    @property
    def sent(self) -> int:
        return sum(len(m.sent) for m in self.members)

    async def acks(self, more: int, *, wait_s: float = 30) -> None:
        """Wait until ``more`` (times SCALE) further sends have been acked (from now on)."""
        target = self.acked + more * SCALE
        async with asyncio.timeout(wait_s * SCALE):
            while self.acked < target:
                self._progress.clear()
                await self._progress.wait()

    async def all_reconnect(self, *, wait_s: float = 30) -> None:
        """Wait until every member has connected once more (from now on)."""
        target = self.connects + len(self.members)
        async with asyncio.timeout(wait_s):
            while self.connects < target:
                self._progress.clear()
                await self._progress.wait()

    async def every_attempt_fails(self, *, wait_s: float = 30) -> None:
        """Wait until every member has had one more connection attempt give up (from now on)."""
        targets = [m.client.failed_attempts + 1 for m in self.members]
        async with asyncio.timeout(wait_s):
            while any(m.client.failed_attempts < t for m, t in zip(self.members, targets, strict=True)):
                self._progress.clear()
                await self._progress.wait()

    async def stop_sending(self) -> None:
        for task in self._senders:
            task.cancel()
        for task in self._senders:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._senders = []

    # ---- the end -------------------------------------------------------------------------

    async def settle(self, *, wait_s: float = 60, retry_failed: bool = False) -> None:
        """Stop sending, then wait until the SDK has an outcome for every send (none left
        ``sending``), and sync every member: what they hold is then what they will show.

        ``retry_failed``: a send reported ``failed`` is retried by hand, as a user would
        (PROTOCOL §6), until every send has been acked.
        """
        await self.stop_sending()
        acked = self.acked
        try:
            async with asyncio.timeout(wait_s):
                while not await self._outcomes(retry_failed=retry_failed):
                    pass
        except TimeoutError:
            progress = f"{self.acked - acked} acked meanwhile, {self.sent - self.acked} left"
            unsettled = f"sends unsettled after {wait_s} s ({progress}):\n{self.describe()}"
            raise AssertionError(unsettled) from None
        for member in self.members:
            await self._synced(member, wait_s=wait_s)

    async def _outcomes(self, *, retry_failed: bool) -> bool:
        """Wait until no send is ``sending``; True when done, False after retrying failed ones."""
        for member in self.members:
            await until(member.conversation, _nothing_sending, wait_s=3600)  # bounded by the caller
        failed = [(m, sent) for m in self.members for sent in m.sent if sent.status == MessageStatus.FAILED]
        if not (retry_failed and failed):
            return True
        for member, message in failed:
            await member.conversation.retry(message)
        return False

    def describe(self) -> str:
        """Each member's connection and sends, for a failure message."""
        lines = []
        for m in self.members:
            statuses = Counter(s.status.value for s in m.sent)
            lines.append(
                f"  {m.user_id}: {m.client.state.value}, outbox {m.client.queued}, "
                f"sends {dict(statuses)}, acked {len(m.client.acks)}, failed attempts "
                f"{m.client.failed_attempts}, last error {m.client.last_error!r}"
            )
        return "\n".join(lines)

    async def live_round(self, *, wait_s: float = 10) -> None:
        """Each member sends one more message, and every member must hold all of them
        within ``wait_s``: well before the SDK's 30 s position check, so they came live
        (``message:new`` through the bus and every gateway's fan-out)."""
        sent = []
        for member in self.members:
            message = await member.conversation.send(f"{member.user_id} live")
            member.sent.append(message)
            sent.append(message)
        async with asyncio.timeout(wait_s):
            for member in self.members:
                await until(member.conversation, _nothing_sending, wait_s=wait_s)
            ids = {m.id for m in sent}
            for member in self.members:
                await until(member.conversation, lambda c: ids <= {m.id for m in c.messages()}, wait_s=wait_s)

    async def _synced(self, member: Member, *, wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                await member.client.wait_connected()
                await member.conversation.sync()
                return
            except (ParleyError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)  # the server said not now; ask again shortly

    async def all_online(self, *, wait_s: float = 20) -> None:
        """Wait until presence counts every member online (``members[].online`` of the
        conversation, as the messages service reads it from presence's state)."""
        token = self.cluster.token(self.members[0].user_id)
        async with httpx.AsyncClient(base_url=self.cluster.messages.url, timeout=5) as http:
            async with asyncio.timeout(wait_s):
                while True:
                    answer = await http.get(
                        f"/api/conversations/{self.conversation_id}",
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    if answer.status_code == 200 and all(m["online"] for m in answer.json()["members"]):
                        return
                    await asyncio.sleep(0.2)  # presence applies reports on its own schedule


def _nothing_sending(conversation: Conversation) -> bool:
    return all(m.status != MessageStatus.SENDING for m in conversation.messages())


def _tokens(cluster: Cluster, user_id: str) -> Callable[[], Any]:
    async def token() -> str:
        return cluster.token(user_id)

    return token
