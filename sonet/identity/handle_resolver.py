"""Resolving handles to DIDs: DNS TXT ``_atproto.<handle>`` and HTTPS well-known.

https://atproto.com/specs/handle#handle-resolution: the TXT record holds
``did=<did>`` (exactly one such record, else no answer); the HTTPS method serves
the DID as the first line of ``https://<handle>/.well-known/atproto-did`` (200
only, redirects followed up to a limit). Both run at once, DNS preferred, as the
reference resolver does. Handles in TLDs the spec reserves are never looked up. Handles under
the user domains of PDSes the operator trusts (:mod:`sonet.identity.trusted_handles`) are asked of
that PDS instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Final

import dns.asyncresolver
import dns.exception
from yarl import URL

from sonet.identity.cache import IdentityCache
from sonet.identity.cached_lookup import CachedLookup
from sonet.identity.errors import InvalidHandleError
from sonet.identity.trusted_handles import TrustedHandleHosts
from sonet.net import HttpClient, NetError
from sonet.net.dns import DEFAULT_DNS_PORT, create_dns_resolver
from sonet.syntax.did import is_valid_did
from sonet.syntax.handle import is_disallowed_handle_tld, is_valid_handle

DNS_PREFIX: Final = "_atproto."
TXT_DID_PREFIX: Final = "did="
WELL_KNOWN_PATH: Final = "/.well-known/atproto-did"
MAX_WELL_KNOWN_BYTES: Final = 4096
log = logging.getLogger(__name__)


def did_from_txt_records(records: Iterable[str]) -> str | None:
    """The DID of the only ``did=`` record, if there is exactly one and it is a DID."""
    found = [r[len(TXT_DID_PREFIX) :] for r in records if r.startswith(TXT_DID_PREFIX)]
    if len(found) != 1 or not is_valid_did(found[0]):
        return None
    return found[0]


def did_from_well_known(body: bytes) -> str | None:
    """The DID on the first line of a well-known response body, if it is one."""
    first_line = body.decode("utf-8", errors="replace").split("\n", 1)[0].strip()
    return first_line if is_valid_did(first_line) else None


def normalize_handle_input(handle: str) -> str:
    """The lowercase handle, or :class:`InvalidHandleError`."""
    if not isinstance(handle, str) or not is_valid_handle(handle):
        raise InvalidHandleError(f"not a handle: {str(handle)[:100]!r}")
    return handle.lower()


class HandleResolver:
    """Handle → DID, through ``http`` and DNS, caching answers in ``cache`` if given.

    ``nameservers``/``dns_port`` replace the system's DNS; ``well_known_scheme`` and
    ``well_known_port`` change where the HTTPS method connects (tests, private networks);
    ``trusted`` answers for the handles under its PDSes' user domains.
    """

    def __init__(
        self,
        http: HttpClient,
        *,
        nameservers: Sequence[str] = (),
        dns_port: int = DEFAULT_DNS_PORT,
        timeout: float = 3.0,
        cache: IdentityCache[str] | None = None,
        well_known_scheme: str = "https",
        well_known_port: int | None = None,
        trusted: TrustedHandleHosts | None = None,
    ) -> None:
        self._http = http
        self._nameservers = tuple(nameservers)
        self._dns_port = dns_port
        self._dns: dns.asyncresolver.Resolver | None = None
        self.timeout = timeout
        self.well_known_scheme = well_known_scheme
        self.well_known_port = well_known_port
        self.trusted = trusted
        self._lookup = CachedLookup(self._fetch, cache)

    async def resolve(self, handle: str) -> str | None:
        """The DID ``handle`` points to (from the cache when there), else None."""
        return await self._lookup.get(normalize_handle_input(handle))

    async def refresh(self, handle: str) -> str | None:
        """Resolve ``handle`` now, bypassing (and then updating) the cache."""
        return await self._lookup.refresh(normalize_handle_input(handle))

    async def _fetch(self, handle: str) -> str | None:
        if self.trusted is not None:
            host = await self.trusted.host_for(handle)
            if host is not None:
                return await self.trusted.resolve(host, handle)
        if is_disallowed_handle_tld(handle):
            return None
        http_task = asyncio.create_task(self.resolve_http(handle))
        try:
            did = await self.resolve_dns(handle)
            return did if did is not None else await http_task
        finally:
            http_task.cancel()

    def _dns_resolver(self) -> dns.asyncresolver.Resolver:
        if self._dns is None:
            self._dns = create_dns_resolver(self._nameservers, self._dns_port, self.timeout)
        return self._dns

    async def resolve_dns(self, handle: str) -> str | None:
        """The DID of the handle's ``_atproto`` TXT record, else None."""
        try:
            answer = await self._dns_resolver().resolve(DNS_PREFIX + handle, "TXT", search=False)
        except (dns.exception.DNSException, NetError) as exc:
            log.debug("no DNS answer for handle %s: %s", handle, exc)
            return None
        texts = (b"".join(rr.strings).decode("utf-8", errors="replace") for rr in answer)
        return did_from_txt_records(texts)

    def well_known_url(self, handle: str) -> URL:
        """The URL of the handle's ``atproto-did`` document."""
        return URL.build(
            scheme=self.well_known_scheme,
            host=handle,
            port=self.well_known_port,
            path=WELL_KNOWN_PATH,
        )

    async def resolve_http(self, handle: str) -> str | None:
        """The DID the handle's host serves at ``/.well-known/atproto-did``, else None."""
        try:
            resp = await self._http.get(
                self.well_known_url(handle), max_bytes=MAX_WELL_KNOWN_BYTES, timeout=self.timeout
            )
        except NetError as exc:
            log.debug("no well-known answer for handle %s: %s", handle, exc)
            return None
        return did_from_well_known(resp.body) if resp.status == 200 else None

    async def close(self) -> None:
        """Cancel background refreshes (the HTTP client is closed by its owner)."""
        await self._lookup.close()
