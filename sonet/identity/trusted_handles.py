"""Handles answered by trusted PDSes: the handle domains a PDS hands out to its accounts.

https://atproto.com/specs/handle#handle-resolution names DNS TXT and HTTPS well-known as the ways
to resolve a handle; a handle under a PDS's own domain (``alice.test`` on a PDS whose
``com.atproto.server.describeServer`` lists ``.test`` in ``availableUserDomains``) may have
neither on a laptop or private network. For the PDSes an operator trusts, such a handle is asked
of that PDS alone with ``com.atproto.identity.resolveHandle``, which a PDS answers for its user
domains from its own accounts (``HandleNotFound`` otherwise). The answer is only one direction:
callers still require the DID document to claim the handle (:mod:`sonet.identity.verify`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import orjson
from yarl import URL

from sonet.net import HttpClient, NetError
from sonet.syntax.did import is_valid_did
from sonet.syntax.handle import is_handle_under

__all__ = ["TrustedHandleHosts", "TrustedPds"]

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES: Final = 64 * 1024
DOMAINS_TTL: Final = 300.0
"""Seconds a PDS's ``availableUserDomains`` are kept before being asked again."""
RETRY_AFTER: Final = 10.0
"""Seconds before a PDS whose ``describeServer`` failed is asked again."""


@dataclass
class TrustedPds:
    """One trusted PDS (its base URL) and the user domains it last reported."""

    url: str
    domains: tuple[str, ...] = ()
    expires: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def xrpc(self, nsid: str, **params: str) -> URL:
        """The URL of query ``nsid`` on this PDS."""
        return URL(self.url.rstrip("/") + "/xrpc/" + nsid).with_query(params)


class TrustedHandleHosts:
    """Resolves handles under the user domains of ``urls`` (PDS base URLs) through those PDSes."""

    def __init__(self, http: HttpClient, urls: Iterable[str], *, timeout: float = 5.0) -> None:
        self._http = http
        self.timeout = timeout
        self.hosts = [TrustedPds(url) for url in urls]

    async def _get_json(self, url: URL) -> object | None:
        try:
            resp = await self._http.get(
                url, max_bytes=MAX_RESPONSE_BYTES, accept="application/json", timeout=self.timeout
            )
        except NetError as exc:
            log.info("trusted PDS request %s failed: %s", url, exc)
            return None
        if resp.status != 200:
            return None
        try:
            body: object = orjson.loads(resp.body)
        except orjson.JSONDecodeError:
            return None
        return body

    async def _domains(self, host: TrustedPds) -> tuple[str, ...]:
        async with host.lock:
            if time.monotonic() < host.expires:
                return host.domains
            body = await self._get_json(host.xrpc("com.atproto.server.describeServer"))
            listed = body.get("availableUserDomains") if isinstance(body, dict) else None
            if isinstance(listed, list):
                host.domains = tuple(d.lower() for d in listed if isinstance(d, str) and d)
                host.expires = time.monotonic() + DOMAINS_TTL
            else:  # keep what it said before, and ask again soon
                host.expires = time.monotonic() + RETRY_AFTER
            return host.domains

    async def host_for(self, handle: str) -> TrustedPds | None:
        """The first trusted PDS whose user domains cover ``handle`` (lower-case), if any."""
        for host in self.hosts:
            if is_handle_under(handle, await self._domains(host)):
                return host
        return None

    async def resolve(self, host: TrustedPds, handle: str) -> str | None:
        """The DID ``host`` holds for ``handle``, or None (not found, or no answer)."""
        body = await self._get_json(host.xrpc("com.atproto.identity.resolveHandle", handle=handle))
        did = body.get("did") if isinstance(body, dict) else None
        return did if isinstance(did, str) and is_valid_did(did) else None
