"""The identity facts a firehose consumer checks events against: signing key and PDS host of an
account (the relay, and the AppView reading a PDS directly).

https://atproto.com/specs/sync#identity-and-account-events: a commit must be signed by the key in
the account's current DID document and come from the PDS that document names. Documents are
resolved (and cached) by :class:`~sonet.identity.did_resolver.DidResolver`; this module keeps the
two facts per DID ready for the hot path, refreshes them on ``#identity`` events, and rate-limits
the refreshes that a failing event may trigger (a hostile host must not make the consumer hammer
the DID directory).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sonet.identity.did_resolver import DidResolver
from sonet.identity.errors import IdentityError
from sonet.sync.hostnames import HostnameError, parse_hostname

__all__ = ["AccountIdentity", "IdentityDirectory", "IdentityUnavailableError"]

FRESH_SECONDS: Final = 3600.0
MAX_ENTRIES: Final = 200_000


class IdentityUnavailableError(ValueError):
    """The DID could not be resolved, or its document lacks what event checks need."""


@dataclass(frozen=True, slots=True)
class AccountIdentity:
    """``key``: the ``did:key`` of the ``#atproto`` key; ``pds_host``: the normalised hostname of
    the ``#atproto_pds`` endpoint (None if absent or unusable); ``handle`` as claimed."""

    did: str
    key: str | None
    pds_host: str | None
    pds_endpoint: str | None
    handle: str | None


class IdentityDirectory:
    """Cached :class:`AccountIdentity` per DID in front of a :class:`DidResolver`."""

    def __init__(
        self,
        resolver: DidResolver,
        *,
        refresh_interval: float = 60.0,
        fresh_seconds: float = FRESH_SECONDS,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.resolver = resolver
        self.refresh_interval = refresh_interval
        self.fresh_seconds = fresh_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[AccountIdentity, float]] = OrderedDict()
        self._refreshed: dict[str, float] = {}

    def cached(self, did: str) -> AccountIdentity | None:
        """The cached identity if fresh (no I/O)."""
        entry = self._entries.get(did)
        if entry is None or self._clock() - entry[1] > self.fresh_seconds:
            return None
        return entry[0]

    async def lookup(self, did: str) -> AccountIdentity:
        """The identity of ``did`` (cached); :class:`IdentityUnavailableError` if unresolvable."""
        found = self.cached(did)
        if found is not None:
            self._entries.move_to_end(did)
            return found
        return await self._resolve(did, force=False)

    async def refresh(self, did: str) -> AccountIdentity:
        """Resolve ``did`` now (an ``#identity`` event said it changed)."""
        self._refreshed[did] = self._clock()
        return await self._resolve(did, force=True)

    async def refresh_if_allowed(self, did: str) -> AccountIdentity | None:
        """Resolve ``did`` again unless that was done less than ``refresh_interval`` ago
        (returns None then); used when an event does not match the cached identity."""
        now = self._clock()
        last = self._refreshed.get(did)
        if last is not None and now - last < self.refresh_interval:
            return None
        if len(self._refreshed) >= self.max_entries:
            self._refreshed.clear()
        self._refreshed[did] = now
        return await self._resolve(did, force=True)

    def forget(self, did: str) -> None:
        """Drop the cached identity of ``did``."""
        self._entries.pop(did, None)

    async def _resolve(self, did: str, *, force: bool) -> AccountIdentity:
        try:
            view = await self.resolver.resolve_atproto(did, force_refresh=force)
        except IdentityError as exc:
            self.forget(did)
            raise IdentityUnavailableError(str(exc)) from None
        pds_host = None
        if view.pds_endpoint is not None:
            try:
                pds_host = parse_hostname(view.pds_endpoint).hostname
            except HostnameError:
                pds_host = None
        key = view.signing_key.did() if view.signing_key is not None else None
        identity = AccountIdentity(did, key, pds_host, view.pds_endpoint, view.handle)
        self._entries[did] = (identity, self._clock())
        self._entries.move_to_end(did)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return identity
