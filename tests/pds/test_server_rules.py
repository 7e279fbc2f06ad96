"""The accounts area's pure rules: handles, email addresses, passwords, service-auth requests,
email codes and the mailer's SMTP URLs."""

from __future__ import annotations

import time

import pytest

from sonet.pds.accounts.email_address import ensure_supported_email, is_valid_email
from sonet.pds.accounts.email_tokens import new_email_token
from sonet.pds.accounts.errors import AccountError
from sonet.pds.accounts.handles import validate_handle
from sonet.pds.accounts.passwords import (
    hash_app_password,
    hash_password,
    new_app_password,
    verify_password,
)
from sonet.pds.accounts.service_auth import check_service_auth_request
from sonet.pds.accounts.times import from_datetime, to_datetime
from sonet.pds.mailer import SmtpSettings
from sonet.pds.proxy_methods import is_privileged_method
from sonet.xrpc.tokens import AuthScope

DOMAINS = (".test", ".example.org")


async def test_handles_under_user_domains() -> None:
    assert await validate_handle("Alice.Example.Org", DOMAINS) == "alice.example.org"
    for handle, error in (
        ("al.test", "InvalidHandle"),
        ("x.y.test", "InvalidHandle"),
        ("root.test", "HandleNotAvailable"),
        ("alice.other.com", "UnsupportedDomain"),
        ("alice.onion", "InvalidHandle"),
        ("-bad-.test", "InvalidHandle"),
    ):
        with pytest.raises(AccountError) as caught:
            await validate_handle(handle, DOMAINS)
        assert caught.value.error == error, handle
    assert await validate_handle("root.test", DOMAINS, allow_reserved=True) == "root.test"


async def test_custom_domain_handles_must_resolve_to_the_did() -> None:
    async def resolve(handle: str) -> str | None:
        return {"me.example.com": "did:plc:me"}.get(handle)

    got = await validate_handle("Me.Example.com", DOMAINS, did="did:plc:me", resolve=resolve)
    assert got == "me.example.com"
    with pytest.raises(AccountError, match="did not resolve"):
        await validate_handle("me.example.com", DOMAINS, did="did:plc:other", resolve=resolve)
    with pytest.raises(AccountError, match="did not resolve"):
        await validate_handle("me.example.com", DOMAINS, did="did:plc:me")


def test_email_addresses() -> None:
    assert is_valid_email("a.b+c@mail.example.com")
    for bad in ("", "a", "a@b", "a@@b.com", "a b@c.com", ".a@b.com", "a@b.c-", "x" * 65 + "@b.com"):
        assert not is_valid_email(bad), bad
    assert ensure_supported_email("Bob@Example.COM") == "bob@example.com"
    with pytest.raises(AccountError):
        ensure_supported_email("nope")


async def test_passwords() -> None:
    stored = await hash_password("s3cret")
    assert stored.startswith("$argon2id$")
    assert await verify_password(stored, "s3cret")
    assert not await verify_password(stored, "S3cret")
    assert not await verify_password("not a hash", "s3cret")
    assert not await verify_password(None, "s3cret")
    assert not await verify_password(stored, "x" * 513)
    one = await hash_app_password("did:plc:a", "abcd-efgh-ijkl-mnop")
    assert one == await hash_app_password("did:plc:a", "abcd-efgh-ijkl-mnop")
    assert one != await hash_app_password("did:plc:b", "abcd-efgh-ijkl-mnop")
    password = new_app_password()
    assert len(password) == 19 and [len(p) for p in password.split("-")] == [4, 4, 4, 4]


def test_service_auth_requests() -> None:
    now = time.time()
    ok = AuthScope.ACCESS
    check_service_auth_request("did:web:api.example.com", None, None, ok, now)
    check_service_auth_request("did:plc:abc#atproto_labeler", int(now) + 30, None, ok, now)
    for aud in ("did:key:zQ3sh", "https://example.com", "did:web:x.com#", "did:web:x.com#a#b"):
        with pytest.raises(AccountError, match="aud must be"):
            check_service_auth_request(aud, None, None, ok, now)
    with pytest.raises(AccountError) as caught:
        check_service_auth_request(
            "did:web:x.com", None, "app.bsky.feed.getTimeline", AuthScope.TAKENDOWN, now
        )
    assert caught.value.error == "InvalidToken"
    check_service_auth_request(
        "did:web:x.com", None, "com.atproto.server.createAccount", AuthScope.TAKENDOWN, now
    )
    assert is_privileged_method("chat.bsky.convo.sendMessage")
    assert not is_privileged_method("app.bsky.feed.getTimeline")
    with pytest.raises(AccountError, match="insufficient access"):
        check_service_auth_request(
            "did:web:x.com", None, "com.atproto.server.createAccount", AuthScope.APP_PASS, now
        )
    check_service_auth_request(
        "did:web:x.com", None, "chat.bsky.convo.getLog", AuthScope.APP_PASS_PRIVILEGED, now
    )
    with pytest.raises(AccountError) as caught:
        check_service_auth_request("did:web:x.com", int(now) + 3601, "a.b.c", ok, now)
    assert caught.value.error == "BadExpiration"


def test_codes_times_and_smtp_urls() -> None:
    token = new_email_token()
    assert len(token) == 11 and token[5] == "-" and token.upper() == token
    assert to_datetime(from_datetime("2025-01-02T03:04:05.678Z")) == "2025-01-02T03:04:05.678Z"
    plain = SmtpSettings.from_url("smtp://mail.example.com")
    assert (plain.host, plain.port, plain.username, plain.starttls) == (
        "mail.example.com",
        25,
        None,
        False,
    )
    secure = SmtpSettings.from_url("smtps://user%40x:p%3Ass@mail.example.com:2465")
    assert secure.implicit_tls and secure.port == 2465
    assert (secure.username, secure.password) == ("user@x", "p:ss")
    assert SmtpSettings.from_url("smtp+starttls://m.example.com").port == 587
    with pytest.raises(ValueError):
        SmtpSettings.from_url("ftp://example.com")
