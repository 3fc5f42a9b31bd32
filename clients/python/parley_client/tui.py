"""The terminal chat (``parley chat``): one conversation, on Textual.

What a person needs to see: each message exactly as it was typed, with its status
(… sending, ✓ sent, ✓✓ delivered, blue ✓✓ read, ✗ not sent and why), who is online and
who is typing, whether the connection is up, and what to do when the token is refused.
Enter sends; Ctrl+R retries the messages that were not sent, once each; Ctrl+Q quits.

Names and bodies are shown as text (never Rich markup) inside Unicode isolates (FSI … PDI),
so that right-to-left text or a bidi control in one of them cannot reorder what is around it
(a name cannot make "you:" or a tick appear elsewhere). Messages are marked read only while
the terminal is in use: it has focus (terminals that report focus) and was used within
``AWAY_AFTER_S``; a chat left in the background does not tell the others it was read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Input, Static
from textual.worker import Worker

from parley_client.client import ParleyClient
from parley_client.conversation import Conversation
from parley_client.models import ConnectionState, LocalMessage, MessageStatus

log = logging.getLogger(__name__)
SHOWN = 300  # the newest messages rendered; the store holds them all
AWAY_AFTER_S = 120.0  # no key or click for this long: the person is away, nothing is marked read
FSI, PDI = "\u2068", "\u2069"

MARKS: dict[MessageStatus, tuple[str, str]] = {
    MessageStatus.SENDING: ("…", "dim"),
    MessageStatus.SENT: ("✓", "grey62"),
    MessageStatus.DELIVERED: ("✓✓", "grey62"),
    MessageStatus.READ: ("✓✓", "bold dodger_blue1"),
}
STATES: dict[ConnectionState, tuple[str, str]] = {
    ConnectionState.CONNECTED: ("● connected", "green"),
    ConnectionState.CONNECTING: ("◌ connecting…", "yellow"),
    ConnectionState.DISCONNECTED: ("○ offline: messages wait and go out on reconnect", "red"),
}
ACTIVITY = (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)


def isolated(text: str) -> str:
    """``text`` in a first-strong isolate: its direction cannot leak into what surrounds it."""
    return f"{FSI}{text}{PDI}"


def failure_mark(message: LocalMessage) -> str:
    """Why it was not sent (the protocol code and the server's words), and what to do."""
    error = message.error
    if error is None:
        reason = "failed"
    elif error.message and error.message != error.code:
        reason = f"{error.code}: {error.message}"
    else:
        reason = error.code
    return f"✗ not sent: {reason} · Ctrl+R retries"


def render_message(message: LocalMessage, own_user: str) -> Text:
    line = Text()
    mine = message.sender_id == own_user
    line.append("you" if mine else isolated(message.sender_id), style="bold" if mine else "bold cyan")
    line.append(": ")
    line.append(isolated(message.text))  # text, never markup: bodies come from other people
    if mine:
        if message.status == MessageStatus.FAILED:
            line.append(f"  {failure_mark(message)}", style="bold red")
        else:
            mark, style = MARKS[message.status]
            line.append(f"  {mark}", style=style)
    return line


def render_people(conversation: Conversation) -> Text:
    line = Text()
    for member in sorted(conversation.members.values(), key=lambda m: m.user_id):
        if member.user_id == conversation.user_id:
            continue
        dot, style = ("●", "green") if member.online else ("○", "grey50")
        line.append(f"{dot} ", style=style)
        line.append(f"{isolated(member.user_id)}  ")
    typing = sorted(conversation.typing.typing_users)
    if typing:
        names = ", ".join(isolated(name) for name in typing)
        line.append(f"  {names} {'is' if len(typing) == 1 else 'are'} typing…", style="italic")
    return line


def render_state(client: ParleyClient, how_to_sign_in: str) -> Text:
    if client.state == ConnectionState.UNAUTHORIZED:
        code = client.auth_error.code if client.auth_error is not None else "auth_invalid"
        return Text(f"✗ session expired / token refused: {code}. {how_to_sign_in}", style="bold red")
    label, style = STATES[client.state]
    return Text(label, style=style)


class ChatApp(App[None]):
    CSS = """
    #state { height: auto; padding: 0 1; }
    #people { height: 1; padding: 0 1; color: $text-muted; }
    #log { height: 1fr; padding: 0 1; }
    Input { dock: bottom; }
    """
    BINDINGS = [("ctrl+r", "retry", "Retry not sent"), ("ctrl+q", "quit", "Quit")]

    def __init__(
        self,
        client: ParleyClient,
        conversation_id: str,
        *,
        how_to_sign_in: str = "Sign in again and restart the chat.",
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.client = client
        self.conversation_id = conversation_id
        self.conversation: Conversation | None = None
        self._how_to_sign_in = how_to_sign_in
        self._now = now
        self._last_activity = now()

    def compose(self) -> ComposeResult:
        yield Static(id="state")
        yield Static(id="people")
        with VerticalScroll(id="log"):
            yield Static(id="messages")
        yield Input(placeholder="Type a message, Enter to send", id="input")
        yield Footer()

    async def on_mount(self) -> None:
        self.title = f"Parley: {self.conversation_id}"
        self.client.on_state_change(lambda _: self._refresh_soon())
        self.conversation = await self.client.open(self.conversation_id)
        self.conversation.on_change(lambda _: self._refresh_soon())
        self.refresh_view()
        self.query_one(Input).focus()

    @property
    def in_use(self) -> bool:
        """Whether the person is looking: the terminal has focus and was used lately."""
        return self.app_focus and self._now() - self._last_activity < AWAY_AFTER_S

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, ACTIVITY):
            returning = not self.in_use
            self._last_activity = self._now()
            if returning:
                self._refresh_soon()  # what is on screen is read now
        await super().on_event(event)

    def on_app_focus(self, _: events.AppFocus) -> None:
        self._last_activity = self._now()
        self._refresh_soon()

    def _refresh_soon(self) -> None:
        self.call_later(self.refresh_view)

    def refresh_view(self) -> None:
        self.query_one("#state", Static).update(render_state(self.client, self._how_to_sign_in))
        conversation = self.conversation
        if conversation is None:
            return
        self.query_one("#people", Static).update(render_people(conversation))
        lines = Text("\n").join(
            render_message(m, conversation.user_id) for m in conversation.messages()[-SHOWN:]
        )
        self.query_one("#messages", Static).update(lines)
        self.query_one("#log", VerticalScroll).scroll_end(animate=False)
        if self.client.state == ConnectionState.CONNECTED and self.in_use:
            # A callable, not a coroutine: an exclusive worker cancelled before it starts would
            # leave a coroutine never awaited.
            # (annotated: mypy cannot infer the result type of a partial through textual's union)
            self._reading: Worker[None] = self.run_worker(
                partial(self._mark_read, conversation), exclusive=True, group="read"
            )

    async def _mark_read(self, conversation: Conversation) -> None:
        # A read lost with the link is sent again at the next refresh; never end the chat for it.
        try:
            await conversation.mark_read()
        except Exception as exc:
            log.info("could not mark read: %r", exc)

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.conversation is None:
            return
        if event.value:
            self.conversation.keystroke()
        else:
            self.conversation.stop_typing()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text and self.conversation is not None:
            event.input.value = ""
            await self.conversation.send(text)

    async def action_retry(self) -> None:
        """Each message that was not sent goes out once more (a second Ctrl+R while it is
        on its way does nothing)."""
        if self.conversation is None:
            return
        retried = 0
        for message in self.conversation.messages():
            if message.status == MessageStatus.FAILED and await self.conversation.retry(message):
                retried += 1
        if retried:
            self.notify(f"sending {retried} message{'s' if retried > 1 else ''} again")
