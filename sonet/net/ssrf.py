"""Refusing outbound connections to non-public addresses (server-side request forgery).

Hostnames are checked after resolution, inside the connector, by
:class:`SsrfSafeResolver`: the addresses it returns are the ones connected to,
so a name that resolves to a public address once and to ``127.0.0.1`` later
(DNS rebinding) is still refused. IP literals never reach a resolver in aiohttp,
so :func:`ssrf_middleware` checks them, and the scheme, on every request and on
every redirect hop.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Final

from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_middlewares import ClientMiddlewareType
from yarl import URL

from sonet.net.errors import SsrfError

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

ALLOWED_SCHEMES: Final = frozenset({"http", "https"})
_NAT64: Final = ip_network("64:ff9b::/96")


def _embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address forwards to (mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_forbidden_address(ip: IPAddress) -> bool:
    """True for private, loopback, link-local, multicast, reserved, unspecified and
    shared (CGNAT) addresses; an IPv6 address embedding an IPv4 one is judged by it."""
    if isinstance(ip, IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            return is_forbidden_address(inner)
        if ip.is_site_local:
            return True
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def parse_ip(host: str) -> IPAddress | None:
    """The address ``host`` spells (IPv6 with or without brackets and zone), else None."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    text = text.partition("%")[0]
    try:
        return ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses outbound requests may reach.

    ``allow_private`` lifts the policy (tests, private networks); ``trusted``
    exempts a few networks only, e.g. an internal PLC directory.
    """

    allow_private: bool = False
    trusted: tuple[IPNetwork, ...] = ()

    @classmethod
    def build(cls, allow_private: bool = False, trusted: Iterable[str] = ()) -> AddressPolicy:
        """A policy from CIDR strings; :class:`SsrfError` for a malformed network."""
        try:
            networks = tuple(ip_network(n, strict=False) for n in trusted)
        except ValueError as exc:
            raise SsrfError(f"bad trusted network: {exc}") from None
        return cls(allow_private, networks)

    def permits(self, ip: IPAddress) -> bool:
        """True if a connection to ``ip`` is allowed."""
        if self.allow_private or not is_forbidden_address(ip):
            return True
        return any(ip in net for net in self.trusted if net.version == ip.version)

    def check_url(self, url: URL) -> None:
        """Raise :class:`SsrfError` unless ``url`` is http(s) with a host that may be reached.

        Hostnames pass here; their addresses are checked at connect time.
        """
        if url.scheme not in ALLOWED_SCHEMES:
            raise SsrfError(f"scheme {url.scheme!r} is not allowed (http and https only)")
        host = url.raw_host
        if not host:
            raise SsrfError(f"URL has no host: {str(url)[:200]!r}")
        ip = parse_ip(host)
        if ip is not None and not self.permits(ip):
            raise SsrfError(f"address {ip} is not public")


class SsrfSafeResolver(AbstractResolver):
    """An aiohttp resolver that drops the non-public addresses another resolver returns.

    Raises :class:`SsrfError` when no permitted address remains.
    """

    def __init__(self, inner: AbstractResolver, policy: AddressPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if self._permits(r["host"])]
        if not allowed:
            raise SsrfError(f"host {host[:253]!r} resolves to no public address")
        return allowed

    def _permits(self, address: str) -> bool:
        ip = parse_ip(address)
        return ip is not None and self._policy.permits(ip)

    async def close(self) -> None:
        await self._inner.close()


def ssrf_middleware(policy: AddressPolicy) -> ClientMiddlewareType:
    """A client middleware checking the scheme and IP-literal host of every request hop."""

    async def guard(req: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        policy.check_url(req.url)
        return await handler(req)

    return guard
