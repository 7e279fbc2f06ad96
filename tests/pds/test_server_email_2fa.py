"""The email sign-in factor (``emailAuthFactor``): turning it on and off with updateEmail, and
createSession asking for the mailed code, through a real SMTP server on loopback (aiosmtpd) and
through the dev-mode log; the schema step adding the column to an older accounts table."""

from __future__ import annotations

import logging

import pytest

from sonet.pds.accounts.email_tokens import TOKEN_TTL_US
from sonet.storage import pds_account_store
from sonet.storage.database import Database
from sonet.storage.migrations import migrate
from sonet.storage.pds_email_token_store import email_token
from tests.pds.conftest import RunningPds
from tests.pds.old_schema import column_names, step_one_without
from tests.pds.test_server_email import TOKEN, Inbox, mailing_pds, smtp
from tests.pds.test_server_support import NO_BODY, PASSWORD, call, pds, plc_url, signup

__all__ = ["mailing_pds", "pds", "plc_url", "smtp"]

S = "com.atproto.server."


async def test_sign_in_code_over_smtp(mailing_pds: RunningPds, smtp: tuple[Inbox, int]) -> None:
    pds, inbox = mailing_pds, smtp[0]
    token = (await signup(pds, "quinn"))["accessJwt"]
    session = await call(pds, S + "getSession", token=token)
    assert session["emailAuthFactor"] is False
    on = {"email": "quinn@example.com", "emailAuthFactor": True}
    # only a confirmed address can receive sign-in codes
    out = await call(pds, S + "updateEmail", on, token=token, status=400)
    assert out["error"] == "InvalidRequest"
    await call(pds, S + "requestEmailConfirmation", NO_BODY, token=token)
    confirm = {"email": "quinn@example.com", "token": inbox.last_token("quinn@example.com")}
    await call(pds, S + "confirmEmail", confirm, token=token)
    # turning the factor on for the current confirmed address needs no code
    await call(pds, S + "updateEmail", on, token=token)
    session = await call(pds, S + "getSession", token=token)
    assert session["emailAuthFactor"] is True and session["emailConfirmed"] is True

    login = {"identifier": "quinn.test", "password": PASSWORD}
    sent = len(inbox.messages)
    out = await call(pds, S + "createSession", login, status=401)
    assert out == {
        "error": "AuthFactorTokenRequired",
        "message": "A sign in code has been sent to your email address",
    }
    assert len(inbox.messages) == sent + 1
    assert inbox.messages[-1]["Subject"].startswith("Your sign-in code")
    code = inbox.last_token("quinn@example.com")
    wrong = await call(
        pds, S + "createSession", {**login, "authFactorToken": "AAAAA-AAAAA"}, status=400
    )
    assert wrong["error"] == "InvalidToken"
    ok = await call(pds, S + "createSession", {**login, "authFactorToken": code.lower()})
    assert ok["emailAuthFactor"] is True and ok["did"] == session["did"]
    refreshed = await call(pds, S + "refreshSession", NO_BODY, token=ok["refreshJwt"])
    assert refreshed["emailAuthFactor"] is True
    # the code is spent
    again = await call(pds, S + "createSession", {**login, "authFactorToken": code}, status=400)
    assert again["error"] == "InvalidToken"

    # app passwords sign in without a code
    app = await call(pds, S + "createAppPassword", {"name": "bot"}, token=token)
    sent = len(inbox.messages)
    await call(pds, S + "createSession", {"identifier": "quinn.test", "password": app["password"]})
    assert len(inbox.messages) == sent

    # an old code has expired
    await call(pds, S + "createSession", login, status=401)
    code = inbox.last_token("quinn@example.com")
    async with pds.ctx.db.write() as conn:
        await conn.execute(
            email_token.update()
            .where(email_token.c.purpose == "2fa")
            .values(requested_at=email_token.c.requested_at - TOKEN_TTL_US - 1)
        )
    out = await call(pds, S + "createSession", {**login, "authFactorToken": code}, status=400)
    assert out["error"] == "ExpiredToken"

    # turning it off needs the change code mailed to the address; the address stays confirmed
    off = {"email": "quinn@example.com", "emailAuthFactor": False}
    out = await call(pds, S + "updateEmail", off, token=token, status=400)
    assert out["error"] == "TokenRequired"
    assert await call(pds, S + "requestEmailUpdate", NO_BODY, token=token) == {
        "tokenRequired": True
    }
    off["token"] = inbox.last_token("quinn@example.com")
    await call(pds, S + "updateEmail", off, token=token)
    session = await call(pds, S + "getSession", token=token)
    assert session["emailAuthFactor"] is False and session["emailConfirmed"] is True
    assert (await call(pds, S + "createSession", login))["emailAuthFactor"] is False


async def test_sign_in_code_in_dev_log_and_new_address(
    pds: RunningPds, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sonet.pds.mailer")
    token = (await signup(pds, "rosa"))["accessJwt"]
    await call(pds, S + "requestEmailConfirmation", NO_BODY, token=token)
    confirm = {"email": "rosa@example.com", "token": TOKEN.findall(caplog.text)[-1]}
    await call(pds, S + "confirmEmail", confirm, token=token)
    on = {"email": "ROSA@example.com", "emailAuthFactor": True}
    await call(pds, S + "updateEmail", on, token=token)

    login = {"identifier": "rosa@example.com", "password": PASSWORD}
    caplog.clear()
    out = await call(pds, S + "createSession", login, status=401)
    assert out["error"] == "AuthFactorTokenRequired"
    assert "rosa@example.com" in caplog.text and "sign-in code" in caplog.text
    code = TOKEN.findall(caplog.text)[-1]
    await call(pds, S + "createSession", {**login, "authFactorToken": code})
    # a wrong password is refused before any code is sent
    caplog.clear()
    await call(pds, S + "createSession", {**login, "password": "wrong"}, status=401)
    assert not TOKEN.findall(caplog.text)

    # a new (unconfirmed) address turns the factor off, and cannot turn it on
    await call(pds, S + "requestEmailUpdate", NO_BODY, token=token)
    change = {"email": "rosa2@example.com", "token": TOKEN.findall(caplog.text)[-1]}
    out = await call(
        pds, S + "updateEmail", {**change, "emailAuthFactor": True}, token=token, status=400
    )
    assert out["error"] == "InvalidRequest"
    await call(pds, S + "updateEmail", change, token=token)
    session = await call(pds, S + "getSession", token=token)
    assert session["email"] == "rosa2@example.com"
    assert session["emailAuthFactor"] is False and session["emailConfirmed"] is False
    await call(pds, S + "createSession", {"identifier": "rosa.test", "password": PASSWORD})


async def test_schema_step_adds_the_column_to_an_older_table(database: Database) -> None:
    account = pds_account_store.account
    await step_one_without(database, "pds_account", account, "email_auth_factor")
    async with database.write() as conn:
        await conn.execute(
            account.insert().values(
                did="did:plc:old", handle="old.test", signing_key="k", created_at=1
            )
        )
    assert await migrate(database, "pds_account", pds_account_store.MIGRATIONS) == 2
    assert "email_auth_factor" in await column_names(database, "account")
    async with database.read() as conn:
        row = await pds_account_store.AccountStore().by_did(conn, "did:plc:old")
    assert row is not None and row.email_auth_factor is False
