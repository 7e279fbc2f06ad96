"""``sonet account ...`` against a running PDS (and a stand-in relay) over loopback HTTP."""

from __future__ import annotations

import argparse
import io
import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sonet.cli_account import add_account_commands, run_account_command
from tests.pds.conftest import RunningPds
from tests.pds.test_server_support import call, pds, plc_url

__all__ = ["pds", "plc_url"]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sonet")
    add_account_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(list(argv))


async def run(pds: RunningPds, *argv: str, password: str = "admin-pass") -> tuple[int, str]:
    out = io.StringIO()
    args = parse("account", "--pds", pds.url, "--admin-password", password, *argv)
    return await run_account_command(args, out), out.getvalue()


async def test_account_commands(pds: RunningPds, capsys: pytest.CaptureFixture[str]) -> None:
    status, text = await run(pds, "create", "eve@example.com", "eve.test")
    assert status == 0
    did = re.search(r"DID +: (\S+)", text)
    password = re.search(r"Password : (\S+)", text)
    assert did is not None and password is not None
    login = {"identifier": "eve.test", "password": password.group(1)}
    await call(pds, "com.atproto.server.createSession", login)

    status, text = await run(pds, "list")
    assert status == 0 and "eve.test" in text and did.group(1) in text

    status, text = await run(pds, "takedown", did.group(1))
    assert status == 0
    refused = await call(pds, "com.atproto.server.createSession", login, status=401)
    assert refused["error"] == "AccountTakedown"
    assert (await run(pds, "untakedown", did.group(1)))[0] == 0

    status, text = await run(pds, "reset-password", did.group(1))
    new_password = text.rsplit(": ", 1)[1].strip()
    await call(pds, "com.atproto.server.createSession", login, status=401)
    await call(
        pds,
        "com.atproto.server.createSession",
        {"identifier": "eve.test", "password": new_password},
    )

    status, text = await run(pds, "invite", "--uses", "3")
    assert status == 0 and text.strip().startswith("localhost-")

    status, _ = await run(pds, "list", password="wrong")
    assert status == 1 and "AuthenticationRequired" in capsys.readouterr().err

    assert (await run(pds, "delete", did.group(1)))[0] == 0
    assert await pds.ctx.accounts.get(did.group(1)) is None


async def test_request_crawl() -> None:
    seen: list[Any] = []

    async def request_crawl(request: web.Request) -> web.Response:
        seen.append(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/xrpc/com.atproto.sync.requestCrawl", request_crawl)
    relay = TestServer(app)
    await relay.start_server()
    out = io.StringIO()
    args = parse(
        "account", "--pds", "https://pds.example.com", "request-crawl", str(relay.make_url(""))
    )
    assert await run_account_command(args, out) == 0
    await relay.close()
    assert seen == [{"hostname": "pds.example.com"}]
