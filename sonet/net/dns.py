"""DNS lookups with dnspython's asyncio resolver, on the system's or configured nameservers.

Used for handle TXT records (https://atproto.com/specs/handle#dns-txt-method) and,
when nameservers are configured, for the addresses outbound HTTP connects to.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from typing import Final

import dns.asyncresolver
import dns.exception
import dns.resolver
from aiohttp.abc import AbstractResolver, ResolveResult

from sonet.net.errors import NetError

DEFAULT_DNS_PORT: Final = 53
_NUMERIC_FLAGS: Final = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
_RDTYPE_FAMILIES: Final = (("A", socket.AF_INET), ("AAAA", socket.AF_INET6))


def create_dns_resolver(
    nameservers: Sequence[str] = (), port: int = DEFAULT_DNS_PORT, timeout: float = 3.0
) -> dns.asyncresolver.Resolver:
    """A resolver on ``nameservers`` (IP addresses) at ``port``, else the system's.

    Raises :class:`NetError` when no nameserver is configured anywhere.
    """
    if nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.port = port  # before nameservers: they take the port when assigned
        try:
            resolver.nameservers = list(nameservers)
        except ValueError as exc:
            raise NetError(f"bad DNS nameserver address: {exc}") from None
    else:
        try:
            resolver = dns.asyncresolver.Resolver()
        except dns.resolver.NoResolverConfiguration as exc:
            raise NetError(f"no system DNS configuration: {exc}") from None
    resolver.timeout = timeout
    resolver.lifetime = timeout
    return resolver


class DnspythonResolver(AbstractResolver):
    """An aiohttp resolver answering A/AAAA lookups through a dnspython resolver.

    Lookup failures raise :class:`OSError`, which aiohttp reports as a DNS error.
    """

    def __init__(self, resolver: dns.asyncresolver.Resolver) -> None:
        self._dns = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        wanted = [(t, f) for t, f in _RDTYPE_FAMILIES if family in (socket.AF_UNSPEC, f)]
        answers = await asyncio.gather(*(self._lookup(host, t) for t, _ in wanted))
        results = [
            ResolveResult(
                hostname=host, host=address, port=port, family=fam, proto=0, flags=_NUMERIC_FLAGS
            )
            for (_, fam), addresses in zip(wanted, answers, strict=True)
            for address in addresses
        ]
        if not results:
            raise OSError(f"no address records for {host[:253]!r}")
        return results

    async def _lookup(self, host: str, rdtype: str) -> list[str]:
        try:
            answer = await self._dns.resolve(host, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as exc:
            raise OSError(f"DNS lookup of {host[:253]!r} failed: {exc}") from exc
        return [rr.to_text() for rr in answer]

    async def close(self) -> None:
        """Nothing to release: dnspython opens a socket per query."""
