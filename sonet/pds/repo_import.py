"""Importing a whole repository from a CAR file (account migration into this PDS).

https://atproto.com/guides/account-migration: the new PDS receives the old one's repo export.
The archive is verified completely (:func:`~sonet.repo.repo_car.verify_repo_car`: block hashes,
MST shape, records) and must be the account's own repo, signed by the account's key here or by
the signing key its DID document names (the old PDS's, during a migration). The stored repo is
then replaced in one transaction by the imported tree under a new commit signed here, and a
``#sync`` event (https://atproto.com/specs/sync#firehose) tells consumers to resynchronise.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final, Literal

from sonet.crypto import PublicKey
from sonet.identity.errors import IdentityError
from sonet.pds.accounts.events import sequence_sync_block
from sonet.pds.context import PdsContext
from sonet.pds.errors import PdsError
from sonet.pds.repo_service import next_rev
from sonet.pds.repo_writes import NO_SWAP, PreparedWrite, find_blob_refs
from sonet.repo import cbor
from sonet.repo.blockstore import MemoryBlockstore
from sonet.repo.commit import sign_commit, verify_commit
from sonet.repo.mst import MST
from sonet.repo.repo_car import InvalidRepoError, VerifiedRepo, verify_repo_car
from sonet.storage.pds_repo_store import RepoRoot
from sonet.syntax.tid import parse_tid

__all__ = ["RepoImportError", "RepoImporter"]

log = logging.getLogger(__name__)

BLOBS_SERVICE: Final = "sonet.pds.api.blobs"
"""Where the blobs area keeps its service; its ``on_import`` hook records the blobs the imported
records reference (those not uploaded yet become ``listMissingBlobs``)."""


class RepoImportError(PdsError):
    """The CAR is not a valid repository of the importing account."""


class RepoImporter:
    """Replaces hosted repositories with verified imports."""

    def __init__(self, ctx: PdsContext) -> None:
        self.ctx = ctx
        self.max_bytes = ctx.config.max_import_size

    async def import_car(self, did: str, data: bytes) -> RepoRoot:
        """Verify ``data`` as ``did``'s repo and make it the hosted repo; returns the new head."""
        try:
            repo = await asyncio.to_thread(verify_repo_car, data, did=did)
        except InvalidRepoError as exc:
            raise RepoImportError(f"Invalid repo: {exc}") from None
        if not await self._signed_by_account(did, repo):
            raise RepoImportError(
                "Invalid repo: commit signature does not match the account's keys"
            )
        key = await self.ctx.accounts.signing_key(did)
        tree = MST.load(MemoryBlockstore(repo.blocks), repo.commit.data)
        nodes = [(node.cid, node.block) for node in tree.nodes()]
        records = [(cid, repo.blocks[cid]) for cid in set(repo.records.values())]
        async with self.ctx.sequencer.transaction() as tx:
            store, conn = self.ctx.repos.store, tx.conn
            old = await store.get_root(conn, did)
            rev = next_rev(old.rev if old is not None else None)
            commit = sign_commit(did, repo.commit.data, rev, key)
            commit_cid, commit_block = commit.to_block()
            on_import = getattr(self.ctx.services.get(BLOBS_SERVICE), "on_import", None)
            old_paths: set[str] = set()
            if on_import is not None:
                old_paths = {f"{c}/{k}" for c, k in await store.record_paths(conn, did)}
            await store.delete_repo(conn, did)
            root = RepoRoot(did, commit_cid, commit.data, rev)
            await store.create_root(conn, root)
            await store.put_blocks(conn, did, rev, [(commit_cid, commit_block), *nodes, *records])
            rows = [(*_split(path), cid) for path, cid in repo.records.items()]
            await store.put_records(conn, did, rev, rows, parse_tid(rev)[0])
            if on_import is not None:
                writes, replaced = _blob_writes(repo, old_paths)
                await on_import(tx, did, writes, replaced)
            await sequence_sync_block(tx, did, commit_cid, commit_block, rev)
        self.ctx.repos.forget(did)
        log.info("imported repo of %s: %d records", did, len(repo.records))
        return root

    async def _signed_by_account(self, did: str, repo: VerifiedRepo) -> bool:
        local: PublicKey = (await self.ctx.accounts.signing_key(did)).public_key()
        if verify_commit(repo.commit, local):
            return True
        try:
            published = await self.ctx.did_resolver.resolve_signing_key(did, force_refresh=True)
        except IdentityError:
            return False
        return verify_commit(repo.commit, published)


def _split(path: str) -> tuple[str, str]:
    collection, _, rkey = path.partition("/")
    return collection, rkey


def _blob_writes(
    repo: VerifiedRepo, old_paths: set[str]
) -> tuple[list[PreparedWrite], list[PreparedWrite]]:
    """The imported records as writes (for the blob hook), and the records they replace: all
    of the old ones (references of records kept are recorded again from ``writes``)."""
    writes: list[PreparedWrite] = []
    replaced: list[PreparedWrite] = []
    for path, cid in repo.records.items():
        collection, rkey = _split(path)
        block = repo.blocks[cid]
        value = cbor.decode(block)
        action: Literal["create", "update"] = "update" if path in old_paths else "create"
        write = PreparedWrite(
            action, collection, rkey, NO_SWAP, value, cid, block, None, find_blob_refs(value)
        )
        writes.append(write)
        if path in old_paths:
            replaced.append(write)
    for path in old_paths - repo.records.keys():
        collection, rkey = _split(path)
        replaced.append(PreparedWrite("delete", collection, rkey, NO_SWAP))
    return writes, replaced
