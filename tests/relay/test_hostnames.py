"""Host name normalisation, trusted-domain patterns and account statuses."""

from __future__ import annotations

import pytest

from sonet.relay.status import AccountStatus, account_is_active, public_account_status
from sonet.sync.hostnames import HostAddress, HostnameError, is_trusted_hostname, parse_hostname


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pds.example.com", HostAddress("pds.example.com")),
        ("PDS.Example.COM", HostAddress("pds.example.com")),
        ("https://pds.example.com/", HostAddress("pds.example.com")),
        ("wss://pds.example.com", HostAddress("pds.example.com")),
        ("http://pds.example.com", HostAddress("pds.example.com", no_ssl=True)),
        ("localhost:2583", HostAddress("localhost:2583", no_ssl=True)),
        ("https://localhost:443", HostAddress("localhost:443")),
    ],
)
def test_accepted(raw: str, expected: HostAddress) -> None:
    assert parse_hostname(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "localhost",
        "pds.example.com:8080",
        "127.0.0.1",
        "[::1]:80",
        "single",
        "ftp://pds.example.com",
        "https://user:pw@pds.example.com",
        "exa mple.com",
    ],
)
def test_refused(raw: str) -> None:
    with pytest.raises(HostnameError):
        parse_hostname(raw)


def test_urls() -> None:
    address = parse_hostname("localhost:1234")
    assert address.is_local
    assert address.base_url == "http://localhost:1234"
    assert address.subscribe_url.endswith("/xrpc/com.atproto.sync.subscribeRepos")


def test_trusted_patterns() -> None:
    patterns = ("pds.example.com", "*.host.bsky.network")
    assert is_trusted_hostname("pds.example.com", patterns)
    assert is_trusted_hostname("morel.us-east.host.bsky.network", patterns)
    assert not is_trusted_hostname("evil.example.com", patterns)


def test_statuses() -> None:
    assert account_is_active("active", "active")
    assert account_is_active("throttled", "active")
    assert not account_is_active("host-throttled", "active")
    assert not account_is_active("active", "deactivated")
    assert public_account_status("active", "active") is None
    assert public_account_status("host-throttled", "active") == "throttled"
    assert public_account_status("takendown", "deactivated") == "takendown"
    assert public_account_status("active", "deleted") == "deleted"
    assert AccountStatus.upstream(True, "takendown") is AccountStatus.ACTIVE
    assert AccountStatus.upstream(False, "suspended") is AccountStatus.SUSPENDED
    assert AccountStatus.upstream(False, "host-throttled") is AccountStatus.INACTIVE
    assert AccountStatus.upstream(False, "whatever") is AccountStatus.INACTIVE
    assert AccountStatus.upstream(False, None) is AccountStatus.INACTIVE
