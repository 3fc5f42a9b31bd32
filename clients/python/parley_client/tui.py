"""The terminal chat (``parley chat``): one conversation, on Textual.

What a person needs to see: each message with its status (… sending, ✓ sent, ✓✓
delivered, blue ✓✓ read, ✗ failed), who is online and who is typing, and whether the
connection is up. Enter sends; Ctrl+R retries failed messages; Ctrl+Q quits.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Input, Static

from parley_client.client import ParleyClient
from parley_client.conversation import Conversation
from parley_client.models import ConnectionState, LocalMessage, MessageStatus

SHOWN = 300  # the newest messages rendered; the store holds them all

MARKS: dict[MessageStatus, tuple[str, str]] = {
    MessageStatus.SENDING: ("…", "dim"),
    MessageStatus.SENT: ("✓", "grey62"),
    MessageStatus.DELIVERED: ("✓✓", "grey62"),
    MessageStatus.READ: ("✓✓", "bold dodger_blue1"),
    MessageStatus.FAILED: ("✗ failed, Ctrl+R retries", "bold red"),
}
STATES: dict[ConnectionState, tuple[str, str]] = {
    ConnectionState.CONNECTED: ("● connected", "green"),
    ConnectionState.CONNECTING: ("◌ connecting…", "yellow"),
    ConnectionState.DISCONNECTED: ("○ offline: messages wait and go out on reconnect", "red"),
}


def render_message(message: LocalMessage, own_user: str) -> Text:
    line = Text()
    who = "you" if message.sender_id == own_user else message.sender_id
    line.append(f"{who}: ", style="bold" if who == "you" else "bold cyan")
    line.append(message.body)  # text, never markup: bodies come from other people
    if message.sender_id == own_user:
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
        line.append(f"{member.user_id}  ")
    typing = sorted(conversation.typing.typing_users)
    if typing:
        line.append(f"  {', '.join(typing)} {'is' if len(typing) == 1 else 'are'} typing…", style="italic")
    return line


class ChatApp(App[None]):
    CSS = """
    #state { height: 1; padding: 0 1; }
    #people { height: 1; padding: 0 1; color: $text-muted; }
    #log { height: 1fr; padding: 0 1; }
    Input { dock: bottom; }
    """
    BINDINGS = [("ctrl+r", "retry", "Retry failed"), ("ctrl+q", "quit", "Quit")]

    def __init__(self, client: ParleyClient, conversation_id: str) -> None:
        super().__init__()
        self.client = client
        self.conversation_id = conversation_id
        self.conversation: Conversation | None = None

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

    def _refresh_soon(self) -> None:
        self.call_later(self.refresh_view)

    def refresh_view(self) -> None:
        label, style = STATES[self.client.state]
        self.query_one("#state", Static).update(Text(label, style=style))
        conversation = self.conversation
        if conversation is None:
            return
        self.query_one("#people", Static).update(render_people(conversation))
        lines = Text("\n").join(
            render_message(m, conversation.user_id) for m in conversation.messages()[-SHOWN:]
        )
        self.query_one("#messages", Static).update(lines)
        self.query_one("#log", VerticalScroll).scroll_end(animate=False)
        if self.client.state == ConnectionState.CONNECTED:
            self.run_worker(conversation.mark_read(), exclusive=True, group="read")

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.conversation is not None and event.value:
            self.conversation.keystroke()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        body = event.value.strip()
        if body and self.conversation is not None:
            event.input.value = ""
            await self.conversation.send(body)

    async def action_retry(self) -> None:
        if self.conversation is None:
            return
        for message in self.conversation.messages():
            if message.status == MessageStatus.FAILED:
                await self.conversation.retry(message)
