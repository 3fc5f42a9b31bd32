"""``parley chat`` / ``parley token`` / ``parley send``: the SDK from a terminal or a script.

Tokens come from ``--token`` or, against a server in DEV_MODE (``make run``), from its
dev-token route (asked again before every connection attempt, since tokens expire).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable

import httpx

from parley_client.client import ParleyClient
from parley_client.errors import AuthError, ParleyError
from parley_client.models import MessageStatus
from parley_client.modes import Modes

TokenProvider = Callable[[], Awaitable[str]]


def token_provider(url: str, user: str | None, token: str | None) -> TokenProvider:
    async def fixed() -> str:
        assert token is not None
        return token

    async def dev() -> str:
        return await dev_token(url, user or "")

    if token:
        return fixed
    if not user:
        raise SystemExit("give --user (a server in DEV_MODE mints tokens) or --token")
    return dev


async def dev_token(url: str, user: str) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answer = await http.post("/api/dev/token", json={"userId": user})
    if answer.status_code == 404:
        raise SystemExit("this server has no dev tokens (DEV_MODE is off): pass --token")
    answer.raise_for_status()
    token: str = answer.json()["token"]
    return token


async def new_conversation(url: str, token: str, members: list[str]) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        answer = await http.post(
            "/api/conversations", json={"memberIds": members}, headers={"Authorization": f"Bearer {token}"}
        )
    answer.raise_for_status()
    conversation_id: str = answer.json()["id"]
    return conversation_id


async def conversation_for(args: argparse.Namespace, tokens: TokenProvider) -> str:
    if args.conversation:
        conversation_id: str = args.conversation
        return conversation_id
    members = [m.strip() for m in (args.with_ or "").split(",") if m.strip()]
    conversation_id = await new_conversation(args.url, await tokens(), members)
    print(f"new conversation {conversation_id} (others join with --conversation {conversation_id})")
    return conversation_id


async def chat(args: argparse.Namespace) -> None:
    from parley_client.tui import ChatApp

    tokens = token_provider(args.url, args.user, args.token)
    conversation_id = await conversation_for(args, tokens)
    async with ParleyClient(
        args.url,
        token_provider=tokens,
        outbox_path=args.outbox,
        transport=args.transport,
        modes=modes_of(args),
    ) as client:
        await ChatApp(client, conversation_id, how_to_sign_in=sign_in_hint(args)).run_async()


def modes_of(args: argparse.Namespace) -> Modes:
    return Modes(messages=args.messages, typing=args.typing, presence=args.presence)


def sign_in_hint(args: argparse.Namespace) -> str:
    """What to do when the server refuses the token, for this command line."""
    if args.token:
        return "get a fresh token and run parley chat again with it (--token)"
    return "check that the server is in DEV_MODE, or pass --token; Ctrl+Q quits"


async def send(args: argparse.Namespace) -> int:
    tokens = token_provider(args.url, args.user, args.token)
    options = {"transport": args.transport, "modes": modes_of(args)}
    async with ParleyClient(args.url, token_provider=tokens, **options) as client:
        try:
            await asyncio.wait_for(client.wait_connected(), args.wait)
        except AuthError as refused:
            print(f"not sent: token refused: {refused.code}: {refused.message}", file=sys.stderr)
            return 1
        conversation = await client.open(args.conversation)
        message = await conversation.send(args.body)
        done = asyncio.Event()
        conversation.on_change(lambda _: done.set() if message.status != MessageStatus.SENDING else None)
        await asyncio.wait_for(done.wait(), args.wait)
    if message.status == MessageStatus.FAILED:
        error = message.error or ParleyError("failed")
        print(f"not sent: {error.code}: {error.message}", file=sys.stderr)
        return 1
    print(json.dumps({"id": message.id, "seq": message.seq, "conversationId": message.conversation_id}))
    return 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``chat``, ``token`` and ``send``, for ``parley`` (the launcher) and ``parley-chat``."""

    def common(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--url", default="http://127.0.0.1:8000", help="the gateway (default %(default)s)"
        )
        command.add_argument("--user", help="user id (dev tokens, DEV_MODE servers only)")
        command.add_argument("--token", help="a JWT to use instead of a dev token")
        command.add_argument(
            "--transport",
            choices=["auto", "websocket", "polling"],
            default="auto",
            help="auto (default): WebSocket, else HTTP long-polling when a proxy blocks it",
        )
        # PROTOCOL §7: per feature, capped by the server's GET /api/client-config.
        for feature, fallback in (("messages", "http"), ("typing", "off"), ("presence", "http")):
            command.add_argument(
                f"--{feature}",
                choices=["socket", fallback],
                default="socket",
                help=f"{feature} over Socket.IO (default) or {fallback} (docs/migration.md)",
            )

    chat_cmd = commands.add_parser("chat", help="chat in a conversation, full screen")
    common(chat_cmd)
    chat_cmd.add_argument("--conversation", help="conversation id (default: create one)")
    chat_cmd.add_argument("--with", dest="with_", help="comma-separated members of a new conversation")
    chat_cmd.add_argument("--outbox", help="SQLite file keeping unsent messages across restarts")

    token_cmd = commands.add_parser("token", help="print a dev token (DEV_MODE servers)")
    token_cmd.add_argument("--url", default="http://127.0.0.1:8000")
    token_cmd.add_argument("--user", required=True)

    send_cmd = commands.add_parser("send", help="send one message and print its id and seq")
    common(send_cmd)
    send_cmd.add_argument("--conversation", required=True)
    send_cmd.add_argument("--body", required=True)
    send_cmd.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the ack")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="parley", description="Parley from the terminal")
    add_commands(root.add_subparsers(dest="command", required=True))
    return root


def main(argv: list[str] | None = None) -> None:
    run(parser().parse_args(argv))


def run(args: argparse.Namespace) -> None:
    """Run a parsed ``chat``, ``token`` or ``send`` command."""
    if args.command == "token":
        print(asyncio.run(dev_token(args.url, args.user)))
    elif args.command == "send":
        raise SystemExit(asyncio.run(send(args)))
    else:
        asyncio.run(chat(args))


if __name__ == "__main__":
    main()
