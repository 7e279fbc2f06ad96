"""Sessions: login by handle/email/DID, refresh rotation and revocation, token expiry and
forgery, takedown blocking login, the login rate limit and timing floor."""

from __future__ import annotations

import time
from typing import Any

from sonet.pds.accounts.service import account_service
from sonet.pds.accounts.sessions import REFRESH_GRACE_US
from sonet.storage.pds_session_store import SessionStore
from sonet.xrpc.tokens import AuthScope
from tests.pds.conftest import RunningPds
from tests.pds.test_server_support import NO_BODY, PASSWORD, call, pds, plc_url, signup

__all__ = ["pds", "plc_url"]

S = "com.atproto.server."


async def login(
    pds: RunningPds, identifier: str, password: str = PASSWORD, status: int = 200
) -> Any:
    return await call(
        pds, S + "createSession", {"identifier": identifier, "password": password}, status=status
    )


async def test_login_by_handle_email_and_did(pds: RunningPds) -> None:
    did = (await signup(pds, "bob"))["did"]
    for identifier in ("bob.test", "BOB.test", "bob@example.com", "Bob@Example.com", did):
        out = await login(pds, identifier)
        assert out["did"] == did and out["handle"] == "bob.test"
        assert out["email"] == "bob@example.com" and out["emailConfirmed"] is False
        assert out["active"] is True and "status" not in out
        token = pds.ctx.tokens.verify_access(out["accessJwt"])
        assert token.scope is AuthScope.ACCESS


async def test_wrong_credentials_are_one_401(pds: RunningPds) -> None:
    await signup(pds, "carol")
    wrong = await login(pds, "carol.test", "nope", status=401)
    unknown = await login(pds, "nobody.test", status=401)
    assert (
        wrong
        == unknown
        == {
            "error": "AuthenticationRequired",
            "message": "Invalid identifier or password",
        }
    )
    too_long = await login(pds, "carol.test", "x" * 513, status=401)
    assert too_long["message"].startswith("Password too long")
    await login(pds, "not an identifier", status=401)


async def test_refresh_rotates_with_grace_and_revocation(pds: RunningPds) -> None:
    out = await signup(pds, "dave")
    first = out["refreshJwt"]
    rotated = await call(pds, S + "refreshSession", NO_BODY, token=first)
    assert rotated["did"] == out["did"] and rotated["refreshJwt"] != first
    # within the grace period the old token yields the same successor id
    again = await call(pds, S + "refreshSession", NO_BODY, token=first)
    tokens = pds.ctx.tokens
    assert (
        tokens.verify_refresh(again["refreshJwt"]).token_id
        == tokens.verify_refresh(rotated["refreshJwt"]).token_id
    )
    old_id = tokens.verify_refresh(first).token_id
    assert old_id is not None
    async with pds.ctx.db.read() as conn:
        row = await SessionStore().get_refresh(conn, old_id)
    assert row is not None and row.expires_at <= time.time_ns() // 1000 + REFRESH_GRACE_US
    # access tokens are not refresh tokens and vice versa
    bad = await call(pds, S + "refreshSession", NO_BODY, token=rotated["accessJwt"], status=400)
    assert bad["error"] == "InvalidToken"
    bad = await call(pds, S + "getSession", token=rotated["refreshJwt"], status=400)
    assert bad["error"] == "InvalidToken"
    # deleteSession revokes: the token can no longer refresh
    await call(pds, S + "deleteSession", NO_BODY, token=rotated["refreshJwt"])
    gone = await call(pds, S + "refreshSession", NO_BODY, token=rotated["refreshJwt"], status=400)
    assert gone == {"error": "ExpiredToken", "message": "Token has been revoked"}


async def test_expired_and_forged_tokens(pds: RunningPds) -> None:
    did = (await signup(pds, "erin"))["did"]
    tokens = pds.ctx.tokens
    expired = tokens.create_access(did, expires_in=-5)
    out = await call(pds, S + "getSession", token=expired, status=400)
    assert out["error"] == "ExpiredToken"
    good = tokens.create_access(did)
    head, claims, sig = good.split(".")
    forged = f"{head}.{claims}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
    out = await call(pds, S + "getSession", token=forged, status=400)
    assert out["error"] == "InvalidToken"
    out = await call(pds, S + "getSession", status=401)
    assert out["error"] == "AuthMissing"
    expired_refresh = tokens.create_refresh(did, expires_in=-5)
    out = await call(pds, S + "refreshSession", NO_BODY, token=expired_refresh, status=400)
    assert out["error"] == "ExpiredToken"
    # an expired refresh token may still end its session
    await call(pds, S + "deleteSession", NO_BODY, token=expired_refresh)


async def test_takedown_blocks_login(pds: RunningPds) -> None:
    out = await signup(pds, "frank")
    did = out["did"]
    subject = {"$type": "com.atproto.admin.defs#repoRef", "did": did}
    await call(
        pds,
        "com.atproto.admin.updateSubjectStatus",
        {"subject": subject, "takedown": {"applied": True, "ref": "case-1"}},
        admin=True,
    )
    refused = await login(pds, "frank.test", status=401)
    assert refused["error"] == "AccountTakedown"
    # the old refresh token was revoked and the account may not refresh
    refused = await call(pds, S + "refreshSession", NO_BODY, token=out["refreshJwt"], status=401)
    assert refused["error"] == "AccountTakedown"
    # endpoints that check takedowns refuse the still-unexpired access token
    refused = await call(
        pds, S + "createAppPassword", {"name": "x"}, token=out["accessJwt"], status=401
    )
    assert refused["error"] == "AccountTakedown"
    # allowTakendown gives a session with the takendown scope only
    taken = await call(
        pds,
        S + "createSession",
        {"identifier": "frank.test", "password": PASSWORD, "allowTakendown": True},
    )
    assert taken["active"] is False and taken["status"] == "takendown"
    scope = pds.ctx.tokens.verify_access(taken["accessJwt"], [AuthScope.TAKENDOWN]).scope
    assert scope is AuthScope.TAKENDOWN
    out = await call(pds, S + "getSession", token=taken["accessJwt"], status=400)
    assert out == {"error": "InvalidToken", "message": "Bad token scope"}
    refused = await call(pds, S + "refreshSession", NO_BODY, token=taken["refreshJwt"], status=401)
    assert refused["error"] == "AccountTakedown"
    await call(
        pds,
        "com.atproto.admin.updateSubjectStatus",
        {"subject": subject, "takedown": {"applied": False}},
        admin=True,
    )
    await login(pds, "frank.test")


async def test_login_rate_limit_per_identifier(pds: RunningPds) -> None:
    await signup(pds, "gina")
    for _ in range(30):
        await login(pds, "gina.test", "wrong", status=401)
    limited = await login(pds, "gina.test", status=429)
    assert limited["error"] == "RateLimitExceeded"
    await login(pds, "gina@example.com")  # another identifier has its own bucket


async def test_login_takes_at_least_the_floor(pds: RunningPds) -> None:
    await signup(pds, "hank")
    account_service(pds.ctx).login_floor = 0.3
    started = time.monotonic()
    await login(pds, "nobody.test", status=401)
    assert time.monotonic() - started >= 0.3
