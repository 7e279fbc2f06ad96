"""``sonet account ...``: manage the accounts of a running PDS over HTTP with the admin password,
like the reference ``pdsadmin`` (create, list, takedown, untakedown, reset-password, delete,
invite), and ask a relay to crawl the PDS (``request-crawl``).

The PDS is ``--pds`` (default ``SONET_PUBLIC_URL``, else http://localhost:2583) and the password
``--admin-password`` (default ``SONET_ADMIN_PASSWORD``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import sys
import time
from typing import Any, TextIO
from urllib.parse import urlsplit

import aiohttp

from sonet.xrpc.client import XrpcClient
from sonet.xrpc.errors import XRPCError

__all__ = ["add_account_commands", "run_account", "run_account_command"]

DEFAULT_PDS = "http://localhost:2583"
PAGE = 100


def add_account_commands(subparsers: Any) -> None:
    """Add the ``account`` command (and its subcommands) to the ``sonet`` parser."""
    parser = subparsers.add_parser("account", help="manage the accounts of a running PDS")
    parser.add_argument(
        "--pds",
        default=os.environ.get("SONET_PUBLIC_URL", DEFAULT_PDS),
        help="URL of the PDS (default: SONET_PUBLIC_URL or %(default)s)",
    )
    parser.add_argument(
        "--admin-password",
        default=os.environ.get("SONET_ADMIN_PASSWORD"),
        help="the PDS admin password (default: SONET_ADMIN_PASSWORD)",
    )
    sub = parser.add_subparsers(dest="account_command", required=True)
    create = sub.add_parser("create", help="create an account (prints its password)")
    create.add_argument("email")
    create.add_argument("handle")
    create.add_argument("--password", help="the password (default: a random one)")
    sub.add_parser("list", help="list every account")
    for name, text in (
        ("takedown", "take an account down"),
        ("untakedown", "lift an account's takedown"),
        ("reset-password", "set a new random password (prints it)"),
        ("delete", "delete an account and its repository"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("did")
    invite = sub.add_parser("invite", help="create an invite code")
    invite.add_argument("--uses", type=int, default=1, help="uses of the code (default 1)")
    crawl = sub.add_parser("request-crawl", help="ask a relay to crawl this PDS")
    crawl.add_argument("relay", help="relay URL or hostname")
    parser.set_defaults(run=run_account)


def run_account(args: argparse.Namespace) -> int:
    """Run one ``sonet account`` subcommand; returns the exit status."""
    return asyncio.run(run_account_command(args))


def _admin_headers(password: str | None) -> dict[str, str]:
    if not password:
        raise SystemExit("error: the admin password is needed (SONET_ADMIN_PASSWORD)")
    token = base64.b64encode(f"admin:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _random_password() -> str:
    return secrets.token_urlsafe(18)


def _service_url(text: str) -> str:
    return text.rstrip("/") if "://" in text else f"https://{text.rstrip('/')}"


async def run_account_command(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """The command's work, printing to ``out``; XRPC refusals print an error and give 1."""
    async with aiohttp.ClientSession() as session:
        try:
            if args.account_command == "request-crawl":
                await _request_crawl(session, args.pds, args.relay, out)
                return 0
            client = XrpcClient(
                session, _service_url(args.pds), headers=_admin_headers(args.admin_password)
            )
            await _COMMANDS[args.account_command](client, args, out)
        except XRPCError as exc:
            print(f"error: {exc.error}: {exc.message}", file=sys.stderr)
            return 1
    return 0


async def _create(client: XrpcClient, args: argparse.Namespace, out: TextIO) -> None:
    invite = await client.procedure("com.atproto.server.createInviteCode", {"useCount": 1})
    password = args.password or _random_password()
    body = {
        "email": args.email,
        "handle": args.handle,
        "password": password,
        "inviteCode": invite["code"],
    }
    public = XrpcClient(client.session, client.service)
    created = await public.procedure("com.atproto.server.createAccount", body)
    print(f"Account created\nHandle   : {created['handle']}", file=out)
    print(f"DID      : {created['did']}\nPassword : {password}", file=out)


async def _list(client: XrpcClient, _args: argparse.Namespace, out: TextIO) -> None:
    cursor: str | None = None
    print(f"{'Handle':<30} {'Email':<32} DID", file=out)
    while True:
        page = await client.query(
            "com.atproto.admin.searchAccounts", {"limit": PAGE, "cursor": cursor}
        )
        for account in page["accounts"]:
            print(
                f"{account['handle']:<30} {account.get('email', '-'):<32} {account['did']}",
                file=out,
            )
        cursor = page.get("cursor")
        if not cursor or not page["accounts"]:
            return


async def _set_takedown(client: XrpcClient, did: str, applied: bool) -> None:
    takedown: dict[str, Any] = {"applied": applied}
    if applied:
        takedown["ref"] = str(int(time.time()))
    body = {
        "subject": {"$type": "com.atproto.admin.defs#repoRef", "did": did},
        "takedown": takedown,
    }
    await client.procedure("com.atproto.admin.updateSubjectStatus", body)


async def _takedown(client: XrpcClient, args: argparse.Namespace, out: TextIO) -> None:
    await _set_takedown(client, args.did, True)
    print(f"{args.did} taken down", file=out)


async def _untakedown(client: XrpcClient, args: argparse.Namespace, out: TextIO) -> None:
    await _set_takedown(client, args.did, False)
    print(f"{args.did} restored", file=out)


async def _reset_password(client: XrpcClient, args: argparse.Namespace, out: TextIO) -> None:
    password = _random_password()
    body = {"did": args.did, "password": password}
    await client.procedure("com.atproto.admin.updateAccountPassword", body)
    print(f"New password for {args.did}: {password}", file=out)


async def _delete(client: XrpcClient, args: argparse.Namespace, out: TextIO) -> None:
    await client.procedure("com.atproto.admin.deleteAccount", {"did": args.did})
    print(f"{args.did} deleted", file=out)


async def _invite(client: XrpcClient, args: argparse.Namespace, out: TextIO) -> None:
    made = await client.procedure("com.atproto.server.createInviteCode", {"useCount": args.uses})
    print(made["code"], file=out)


async def _request_crawl(session: aiohttp.ClientSession, pds: str, relay: str, out: TextIO) -> None:
    hostname = urlsplit(_service_url(pds)).hostname or pds
    client = XrpcClient(session, _service_url(relay))
    await client.procedure("com.atproto.sync.requestCrawl", {"hostname": hostname})
    print(f"requested a crawl of {hostname} from {relay}", file=out)


_COMMANDS = {
    "create": _create,
    "list": _list,
    "takedown": _takedown,
    "untakedown": _untakedown,
    "reset-password": _reset_password,
    "delete": _delete,
    "invite": _invite,
}
