"""Firehose messages to index events (https://atproto.com/specs/sync#firehose).

Messages are parsed strictly by the parser the relay also uses (:mod:`sonet.sync.messages`). A
``#commit`` becomes a :class:`CommitItem` of its indexed-collection operations with decoded,
lexicon-checked records (invalid or missing ones are skipped and counted). When the AppView reads
a PDS directly, :class:`CommitVerifier` first checks each commit as a relay would
(:mod:`sonet.sync.verifier`: the signature by the account's current key, the sync 1.1 proof
against ``prevData``, which only a repo's first commit, without ``since``, may lack) and that the
account is hosted by that PDS.
"""

from __future__ import annotations

from collections import Counter
from typing import Final

from sonet.appview.ingest.errors import InvalidRecordError, SourceError
from sonet.appview.ingest.events import CommitItem, RecordDelete, RecordWrite
from sonet.appview.ingest.record_decode import decode_record, split_path
from sonet.lexicons import Lexicons
from sonet.repo.car import CarError, read_car
from sonet.sync.hostnames import HostnameError, parse_hostname
from sonet.sync.identities import IdentityDirectory, IdentityUnavailableError
from sonet.sync.messages import CommitEvent, MalformedEventError, SyncEvent, parse_ops
from sonet.sync.verifier import (
    MAX_COMMIT_BLOCKS,
    VerificationError,
    VerifyJob,
    verify_commit_event,
    verify_sync_event,
)

__all__ = ["CommitVerifier", "commit_item"]

FUTURE_TOLERANCE_US: Final = 5 * 60 * 1_000_000


def commit_item(event: CommitEvent, lexicons: Lexicons, stats: Counter[str]) -> CommitItem:
    """The index event of a ``#commit``; :class:`SourceError` if its CAR or ops are malformed."""
    try:
        blocks = read_car(event.blocks, max_total_size=MAX_COMMIT_BLOCKS).blocks
        ops = parse_ops(event.ops)
    except (CarError, MalformedEventError) as exc:
        raise SourceError(f"commit {event.seq} of {event.repo}: {exc}") from None
    items: list[RecordWrite | RecordDelete] = []
    for op in ops:
        where = split_path(op.path)
        if where is None:
            continue
        collection, rkey = where
        if op.action == "delete":
            items.append(RecordDelete(event.repo, collection, rkey))
            continue
        block = blocks.get(op.cid) if op.cid is not None else None
        if block is None or op.cid is None:
            stats["missing_record_blocks"] += 1
            continue
        try:
            items.append(
                decode_record(
                    lexicons, op.action, event.repo, collection, rkey, op.cid.encode(), block
                )
            )
        except InvalidRecordError:
            stats["invalid_records"] += 1
    return CommitItem(event.seq, event.repo, event.rev, event.commit.encode(), event.time, items)


class CommitVerifier:
    """Relay-grade checks of commits read straight from the PDS at ``service`` (its URL as
    DID documents name it, e.g. ``https://pds.example.com``)."""

    def __init__(self, identities: IdentityDirectory, service: str) -> None:
        self.identities = identities
        try:
            self.host = parse_hostname(service).hostname
        except HostnameError as exc:
            raise SourceError(f"unusable PDS URL {service!r}: {exc}") from None

    async def _key(self, did: str) -> str:
        identity = await self.identities.lookup(did)
        if identity.pds_host != self.host:
            identity = await self.identities.refresh_if_allowed(did) or identity
        if identity.pds_host != self.host:
            raise SourceError(f"{did} is not hosted by {self.host}")
        if identity.key is None:
            raise SourceError(f"{did} has no signing key")
        return identity.key

    async def check(self, event: CommitEvent | SyncEvent) -> None:
        """Raise :class:`SourceError` unless the event verifies (a failed signature is retried
        once with a freshly resolved key: it may have been rotated)."""
        did = event.repo if isinstance(event, CommitEvent) else event.did
        try:
            key = await self._key(did)
            try:
                self._verify(event, key)
            except VerificationError:
                fresh = await self.identities.refresh_if_allowed(did)
                if fresh is None or fresh.key is None or fresh.key == key:
                    raise
                self._verify(event, fresh.key)
        except (VerificationError, IdentityUnavailableError) as exc:
            raise SourceError(f"{did}: {exc}") from None

    @staticmethod
    def _verify(event: CommitEvent | SyncEvent, key: str) -> None:
        job = VerifyJob(b"", key, True, FUTURE_TOLERANCE_US)
        if isinstance(event, SyncEvent):
            verify_sync_event(event, job)
            return
        if event.prev_data is None and event.since is not None:
            raise SourceError(f"commit {event.rev} of {event.repo} has no prevData")
        verify_commit_event(event, job)
