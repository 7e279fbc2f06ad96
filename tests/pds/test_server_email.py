"""Email flows through a real SMTP server on loopback (aiosmtpd) and through the dev-mode log:
confirmation, change of address, password reset, code expiry and misuse."""

from __future__ import annotations

import asyncio
import email
import logging
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from sonet.pds.accounts.email_tokens import TOKEN_TTL_US
from sonet.pds.accounts.service import account_service
from sonet.pds.mailer import MailDeliveryError, Mailer, MailMessage
from sonet.storage.pds_email_token_store import email_token
from tests.pds.conftest import PdsFactory, RunningPds
from tests.pds.test_server_support import AREAS, NO_BODY, PASSWORD, call, pds, plc_url, signup

__all__ = ["pds", "plc_url"]

S = "com.atproto.server."
TOKEN = re.compile(r"[A-Z2-7]{5}-[A-Z2-7]{5}")


class Inbox:
    """Collects what the SMTP server receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def last_token(self, to: str) -> str:
        for message in reversed(self.messages):
            if message["To"] == to:
                found = TOKEN.search(str(message.get_payload()))
                assert found is not None
                return found.group(0)
        raise AssertionError(f"no mail to {to}")


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
async def mailing_pds(pds_factory: PdsFactory, plc_url: str, smtp: tuple[Inbox, int]) -> RunningPds:
    running = await pds_factory(
        areas=AREAS, plc_url=plc_url, smtp_url=f"smtp://127.0.0.1:{smtp[1]}", dev_mode=False
    )
    account_service(running.ctx).login_floor = 0.0
    return running


async def test_confirm_and_change_email_over_smtp(
    mailing_pds: RunningPds, smtp: tuple[Inbox, int]
) -> None:
    pds, inbox = mailing_pds, smtp[0]
    token = (await signup(pds, "mona"))["accessJwt"]
    # unconfirmed address: a change needs no code
    out = await call(pds, S + "requestEmailUpdate", NO_BODY, token=token)
    assert out == {"tokenRequired": False}
    await call(pds, S + "requestEmailConfirmation", NO_BODY, token=token)
    code = inbox.last_token("mona@example.com")
    assert inbox.messages[-1]["From"] == pds.ctx.config.email_from
    wrong = {"email": "other@example.com", "token": code}
    out = await call(pds, S + "confirmEmail", wrong, token=token, status=400)
    assert out["error"] == "InvalidEmail"
    bad = {"email": "mona@example.com", "token": "AAAAA-AAAAA"}
    out = await call(pds, S + "confirmEmail", bad, token=token, status=400)
    assert out["error"] == "InvalidToken"
    await call(pds, S + "confirmEmail", {"email": "MONA@example.com", "token": code}, token=token)
    session = await call(pds, S + "getSession", token=token)
    assert session["emailConfirmed"] is True
    # confirmed address: the change needs the code mailed to it
    out = await call(pds, S + "requestEmailUpdate", NO_BODY, token=token)
    assert out == {"tokenRequired": True}
    code = inbox.last_token("mona@example.com")
    out = await call(pds, S + "updateEmail", {"email": "new@example.com"}, token=token, status=400)
    assert out["error"] == "TokenRequired"
    await call(pds, S + "updateEmail", {"email": "New@example.com", "token": code}, token=token)
    session = await call(pds, S + "getSession", token=token)
    assert session["email"] == "new@example.com" and session["emailConfirmed"] is False
    # an address in use by another account is refused
    await signup(pds, "nina")
    out = await call(pds, S + "updateEmail", {"email": "nina@example.com"}, token=token, status=400)
    assert "already in use" in out["message"]
    out = await call(pds, S + "updateEmail", {"email": "not-an-email"}, token=token, status=400)
    assert out["message"].startswith("This email address is not supported")


async def test_password_reset_over_smtp(mailing_pds: RunningPds, smtp: tuple[Inbox, int]) -> None:
    pds, inbox = mailing_pds, smtp[0]
    out = await signup(pds, "oscar")
    await call(pds, S + "requestPasswordReset", {"email": "OSCAR@example.com"})
    code = inbox.last_token("oscar@example.com")
    missing = await call(pds, S + "requestPasswordReset", {"email": "x@example.com"}, status=400)
    assert missing["message"] == "account does not have an email address"
    bad = await call(
        pds, S + "resetPassword", {"token": "AAAAA-AAAAA", "password": "x"}, status=400
    )
    assert bad["error"] == "InvalidToken"
    long = {"token": code, "password": "x" * 257}
    assert (await call(pds, S + "resetPassword", long, status=400))["message"] == (
        "Invalid password length."
    )
    await call(pds, S + "resetPassword", {"token": code, "password": "brand-new-pass"})
    # the code is spent, the old password and the old sessions are gone
    again = await call(pds, S + "resetPassword", {"token": code, "password": "y"}, status=400)
    assert again["error"] == "InvalidToken"
    login = {"identifier": "oscar.test", "password": PASSWORD}
    await call(pds, S + "createSession", login, status=401)
    await call(pds, S + "createSession", {"identifier": "oscar.test", "password": "brand-new-pass"})
    gone = await call(pds, S + "refreshSession", NO_BODY, token=out["refreshJwt"], status=400)
    assert gone["error"] == "ExpiredToken"


async def test_expired_code_and_dev_mode_log(
    pds: RunningPds, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sonet.pds.mailer")
    token = (await signup(pds, "paul"))["accessJwt"]
    await call(pds, S + "requestEmailConfirmation", NO_BODY, token=token)
    found = TOKEN.findall(caplog.text)
    assert found and "paul@example.com" in caplog.text
    async with pds.ctx.db.write() as conn:
        await conn.execute(
            email_token.update().values(requested_at=email_token.c.requested_at - TOKEN_TTL_US - 1)
        )
    body = {"email": "paul@example.com", "token": found[-1]}
    out = await call(pds, S + "confirmEmail", body, token=token, status=400)
    assert out["error"] == "ExpiredToken"


async def test_smtp_failure_is_a_typed_error() -> None:
    mailer = Mailer("smtp://127.0.0.1:1", "noreply@example.com")
    with pytest.raises(MailDeliveryError):
        await mailer.send(MailMessage("a@example.com", "hi", "text"))
    with pytest.raises(ValueError):
        Mailer("http://example.com", "noreply@example.com")
    await asyncio.sleep(0)
