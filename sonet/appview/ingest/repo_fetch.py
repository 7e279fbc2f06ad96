"""Fetching a whole repository for backfill and resync (``com.atproto.sync.getRepo``).

https://atproto.com/specs/sync#repository-export: the CAR is verified completely before any of
it is indexed (:func:`sonet.repo.repo_car.verify_repo_car`: block hashes, the commit signature
by the DID's current ``#atproto`` key, the MST), then its indexed-collection records are decoded
and lexicon-checked (invalid ones are skipped).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Final

import aiohttp

from sonet.appview.ingest.errors import InvalidRecordError, SourceError
from sonet.appview.ingest.events import RecordWrite, RepoSnapshot, record_uri
from sonet.appview.ingest.record_decode import decode_record, split_path
from sonet.appview.ingest.times import now_iso
from sonet.identity.did_resolver import DidResolver
from sonet.identity.errors import IdentityError
from sonet.lexicons import Lexicons
from sonet.repo.repo_car import InvalidRepoError, VerifiedRepo, verify_repo_car
from sonet.xrpc.client import XrpcClient
from sonet.xrpc.errors import XRPCError

__all__ = ["MAX_REPO_BYTES", "RepoFetcher", "snapshot_of"]

MAX_REPO_BYTES: Final = 1 << 30


def snapshot_of(
    repo: VerifiedRepo, did: str, lexicons: Lexicons, stats: Counter[str]
) -> RepoSnapshot:
    """The index snapshot of a verified repository."""
    records: dict[str, RecordWrite] = {}
    for path, cid in repo.records.items():
        where = split_path(path)
        if where is None:
            continue
        collection, rkey = where
        try:
            write = decode_record(
                lexicons, "create", did, collection, rkey, cid.encode(), repo.blocks[cid]
            )
        except InvalidRecordError:
            stats["invalid_records"] += 1
            continue
        records[record_uri(did, collection, rkey)] = write
    return RepoSnapshot(None, did, repo.commit.rev, repo.commit_cid.encode(), now_iso(), records)


class RepoFetcher:
    """Downloads and verifies repositories from the PDS their DID document names."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        dids: DidResolver,
        lexicons: Lexicons,
        *,
        timeout: float = 300.0,
    ) -> None:
        self.session = session
        self.dids = dids
        self.lexicons = lexicons
        self.timeout = timeout
        self.stats: Counter[str] = Counter()

    async def snapshot(self, did: str) -> RepoSnapshot:
        """The verified snapshot of ``did``'s repo; :class:`SourceError` if that fails."""
        try:
            identity = await self.dids.resolve_atproto(did)
        except IdentityError as exc:
            raise SourceError(f"cannot resolve {did}: {exc}") from None
        if identity.pds_endpoint is None or identity.signing_key is None:
            raise SourceError(f"{did} names no PDS or signing key")
        client = XrpcClient(
            self.session, identity.pds_endpoint, timeout=self.timeout, max_response=MAX_REPO_BYTES
        )
        try:
            response = await client.call("GET", "com.atproto.sync.getRepo", {"did": did})
        except XRPCError as exc:
            raise SourceError(f"getRepo {did} failed: {exc}") from None
        key = identity.signing_key
        try:
            repo = await asyncio.to_thread(verify_repo_car, response.body, did=did, key=key)
        except InvalidRepoError as exc:
            raise SourceError(f"repo of {did} does not verify: {exc}") from None
        return snapshot_of(repo, did, self.lexicons, self.stats)
