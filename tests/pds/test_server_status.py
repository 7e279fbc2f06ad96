"""Account status: deactivation round trip, checkAccountStatus, deletion with an email code,
service auth rules, and the #account/#identity/#sync events of each change."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable
from typing import Any

import pytest

from sonet.crypto import PublicKey, parse_did_key
from sonet.storage.pds_repo_stats import count_repo_blocks
from sonet.xrpc.service_jwt import verify_service_jwt
from tests.pds.conftest import RunningPds
from tests.pds.test_server_support import NO_BODY, PASSWORD, call, events_of, pds, plc_url, signup

__all__ = ["pds", "plc_url"]

S = "com.atproto.server."
TOKEN = re.compile(r"[A-Z2-7]{5}-[A-Z2-7]{5}")


def last_token(caplog: pytest.LogCaptureFixture) -> str:
    """The code in the newest mail the dev-mode mailer wrote to the log."""
    found = TOKEN.findall(caplog.text)
    assert found, "no mail in the log"
    return str(found[-1])


async def test_deactivation_round_trip(pds: RunningPds) -> None:
    out = await signup(pds, "jack")
    did, token = out["did"], out["accessJwt"]
    status = await call(pds, S + "checkAccountStatus", token=token)
    assert status["activated"] is True and status["validDid"] is True
    assert status["repoBlocks"] >= 2 and status["indexedRecords"] == 0
    head = await pds.ctx.repos.head(did)
    assert status["repoCommit"] == head.commit_cid.encode() and status["repoRev"] == head.rev

    await call(
        pds, S + "deactivateAccount", {"deleteAfter": "2030-01-01T00:00:00.000Z"}, token=token
    )
    session = await call(pds, S + "getSession", token=token)
    assert session["active"] is False and session["status"] == "deactivated"
    login = await call(pds, S + "createSession", {"identifier": "jack.test", "password": PASSWORD})
    assert login["active"] is False and login["status"] == "deactivated"
    status = await call(pds, S + "checkAccountStatus", token=token)
    assert status["activated"] is False
    account = await pds.ctx.accounts.get(did)
    assert account is not None and account.delete_after is not None

    await call(pds, S + "activateAccount", NO_BODY, token=token)
    session = await call(pds, S + "getSession", token=token)
    assert session["active"] is True and "status" not in session
    events = await events_of(pds, did)
    tail = [(kind, body.get("active"), body.get("status")) for kind, body in events[-4:]]
    assert tail == [
        ("#account", False, "deactivated"),
        ("#account", True, None),
        ("#identity", None, None),
        ("#sync", None, None),
    ]
    assert events[-2][1]["handle"] == "jack.test"
    assert events[-1][1]["rev"] == head.rev


async def test_delete_account_with_email_code(
    pds: RunningPds, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sonet.pds.mailer")
    out = await signup(pds, "kate")
    did, token = out["did"], out["accessJwt"]
    await call(pds, S + "createAppPassword", {"name": "app"}, token=token)
    await call(pds, S + "requestAccountDelete", NO_BODY, token=token)
    code = last_token(caplog)
    body = {"did": did, "password": PASSWORD, "token": "AAAAA-BBBBB"}
    bad = await call(pds, S + "deleteAccount", body, status=400)
    assert bad["error"] == "InvalidToken"
    body = {"did": did, "password": "wrong", "token": code}
    await call(pds, S + "deleteAccount", body, status=401)
    body = {"did": did, "password": PASSWORD, "token": code.lower()}
    await call(pds, S + "deleteAccount", body)

    assert await pds.ctx.accounts.get(did) is None
    async with pds.ctx.db.read() as conn:
        assert await pds.ctx.repos.store.get_root(conn, did) is None
        assert await pds.ctx.repos.store.record_count(conn, did) == 0
        assert await count_repo_blocks(conn, did) == 0
    # only the final #account event of the account is left in the log
    [(kind, last)] = await events_of(pds, did)
    assert kind == "#account" and last["active"] is False and last["status"] == "deleted"
    refused = await call(pds, S + "getSession", token=token, status=400)
    assert refused["message"].startswith("Could not find user info")
    await call(
        pds, S + "createSession", {"identifier": "kate.test", "password": PASSWORD}, status=401
    )
    # the handle and email are free again
    await signup(pds, "kate")


async def test_service_auth_rules(pds: RunningPds) -> None:
    out = await signup(pds, "liam")
    did, token = out["did"], out["accessJwt"]
    aud = "did:web:appview.example.com"
    params = {"aud": aud, "lxm": "app.bsky.feed.getTimeline"}
    got = await call(pds, S + "getServiceAuth", params=params, token=token)
    key = await pds.ctx.accounts.signing_key(did)

    async def resolve(iss: str, _force: bool) -> PublicKey:
        assert iss == did
        return parse_did_key(key.did())

    payload = await verify_service_jwt(got["token"], aud, params["lxm"], resolve)
    assert payload.iss == did and payload.exp - time.time() <= 61

    def refused(params: dict[str, object]) -> Awaitable[Any]:
        return call(pds, S + "getServiceAuth", params=params, token=token, status=400)

    out = await refused({"aud": "https://example.com"})
    assert out["message"].startswith("aud must be")
    out = await refused({"aud": aud, "exp": int(time.time()) - 10})
    assert out["error"] == "BadExpiration"
    out = await refused({"aud": aud, "lxm": params["lxm"], "exp": int(time.time()) + 7200})
    assert out["error"] == "BadExpiration"
    out = await refused({"aud": aud, "exp": int(time.time()) + 120})
    assert out["error"] == "BadExpiration"
    out = await refused({"aud": aud, "lxm": "com.atproto.server.getSession"})
    assert "protected method" in out["message"]
    ok = {"aud": aud + "#atproto_labeler", "exp": int(time.time()) + 30}
    await call(pds, S + "getServiceAuth", params=ok, token=token)
