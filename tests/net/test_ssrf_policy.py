"""The address policy: which IPs, schemes and URLs outbound requests may reach."""

from __future__ import annotations

from ipaddress import ip_address

import pytest
from yarl import URL

from sonet.net import AddressPolicy, SsrfError, is_forbidden_address
from sonet.net.ssrf import parse_ip

FORBIDDEN = [
    "127.0.0.1",
    "127.255.0.9",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "0.0.0.0",
    "100.64.0.1",  # shared address space (CGNAT)
    "192.0.2.1",
    "198.18.0.1",
    "224.0.0.1",
    "239.1.1.1",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",
    "ff02::1",
    "ff0e::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_forbidden_addresses(address: str) -> None:
    assert is_forbidden_address(ip_address(address))
    assert not AddressPolicy().permits(ip_address(address))
    assert AddressPolicy(allow_private=True).permits(ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses(address: str) -> None:
    assert not is_forbidden_address(ip_address(address))
    assert AddressPolicy().permits(ip_address(address))


def test_parse_ip_forms() -> None:
    assert parse_ip("[::1]") == ip_address("::1")
    assert parse_ip("fe80::1%eth0") == ip_address("fe80::1")
    assert parse_ip("example.com") is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "https://10.1.2.3:8443/x",
        "http://[::1]:80/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "ws://example.com/",
    ],
)
def test_check_url_refuses(url: str) -> None:
    with pytest.raises(SsrfError):
        AddressPolicy().check_url(URL(url))


def test_check_url_allows_hostnames_and_public_literals() -> None:
    policy = AddressPolicy()
    policy.check_url(URL("https://example.com/.well-known/did.json"))
    policy.check_url(URL("http://8.8.8.8/"))
    policy.check_url(URL("https://[2606:4700:4700::1111]/"))


def test_trusted_networks() -> None:
    policy = AddressPolicy.build(trusted=["127.0.0.1/32", "fd00::/8"])
    assert policy.permits(ip_address("127.0.0.1"))
    assert policy.permits(ip_address("fd00::5"))
    assert not policy.permits(ip_address("127.0.0.2"))
    assert not policy.permits(ip_address("10.0.0.1"))
    policy.check_url(URL("http://127.0.0.1:2582/"))


def test_bad_trusted_network_is_typed() -> None:
    with pytest.raises(SsrfError, match="trusted network"):
        AddressPolicy.build(trusted=["not-a-network"])


def test_check_url_needs_a_host() -> None:
    with pytest.raises(SsrfError, match="no host"):
        AddressPolicy().check_url(URL("http:///path"))
