"""``com.atproto.sync.*``: repo exports, heads, hosting status and the subscribeRepos firehose.

https://atproto.com/specs/sync. Reads of a taken-down, suspended or deactivated repo are refused
(``RepoTakendown``...) except for its owner and the admin, as the reference PDS does. Blob
methods (getBlob, listBlobs) belong to the blobs area. ``setup`` starts the firehose retention
trim and the requestCrawl notifications; ``close`` stops them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sonet.pds.context import PdsContext
from sonet.pds.crawlers import Crawlers
from sonet.pds.firehose import Firehose, FirehoseSettings
from sonet.pds.sync_access import hosting_status, is_owner_or_admin, readable_account
from sonet.pds.sync_car import open_repo_car, record_proof_car
from sonet.repo.car import car_bytes
from sonet.repo.cid import CID, InvalidCidError, parse_cid
from sonet.xrpc.context import HandlerContext, XrpcBody, XrpcStream
from sonet.xrpc.errors import InvalidRequestError
from sonet.xrpc.router import XrpcRouter
from sonet.xrpc.tokens import ACCESS_STANDARD, AuthScope

__all__ = ["CAR_TYPE", "SyncApi", "SyncServices", "close", "register", "setup"]

NSID: Final = "com.atproto.sync"
CAR_TYPE: Final = "application/vnd.ipld.car"

Call = HandlerContext[Any]


@dataclass
class SyncServices:
    """The sync area's background services (in ``ctx.services[__name__]``)."""

    firehose: Firehose
    crawlers: Crawlers


def settings_from(ctx: PdsContext) -> FirehoseSettings:
    """Firehose settings from the config (``firehose_retention_hours``)."""
    return FirehoseSettings(retention_seconds=ctx.config.firehose_retention_hours * 3600)


async def setup(ctx: PdsContext) -> None:
    """Start the firehose retention trim and the crawl requests."""
    firehose = Firehose(ctx.sequencer, settings_from(ctx))
    firehose.start()
    crawlers = Crawlers(ctx.http, ctx.sequencer, ctx.config.hostname, ctx.config.crawlers)
    crawlers.start()
    ctx.services[__name__] = SyncServices(firehose, crawlers)


async def close(ctx: PdsContext) -> None:
    """Stop the background services."""
    services: SyncServices | None = ctx.services.get(__name__)
    if services is not None:
        await services.crawlers.close()
        await services.firehose.close()


def services(ctx: PdsContext) -> SyncServices:
    """The running sync services (set up on first use if :func:`setup` did not run)."""
    found: SyncServices | None = ctx.services.get(__name__)
    if found is None:
        found = SyncServices(
            Firehose(ctx.sequencer, settings_from(ctx)),
            Crawlers(ctx.http, ctx.sequencer, ctx.config.hostname, ()),
        )
        ctx.services[__name__] = found
    return found


class SyncApi:
    """The handlers of ``com.atproto.sync``, bound to one PDS."""

    def __init__(self, ctx: PdsContext) -> None:
        self.ctx = ctx

    async def _available(self, hctx: Call) -> str:
        did: str = hctx.params["did"]
        await readable_account(self.ctx, did, owner_or_admin=is_owner_or_admin(hctx.auth, did))
        return did

    async def get_repo(self, hctx: Call) -> XrpcStream:
        """getRepo: the whole repo as a streamed CAR, or only blocks newer than ``since``."""
        did = await self._available(hctx)
        _root, chunks = await open_repo_car(
            self.ctx.db, self.ctx.repos.store, did, hctx.params.get("since")
        )
        return XrpcStream(chunks, CAR_TYPE)

    async def get_latest_commit(self, hctx: Call) -> dict[str, Any]:
        """getLatestCommit: the head's CID and rev."""
        did = await self._available(hctx)
        head = await self.ctx.repos.head(did)
        return {"cid": head.commit_cid.encode(), "rev": head.rev}

    async def get_record(self, hctx: Call) -> XrpcBody:
        """getRecord: the commit, the MST path to the key and the record (if present) as a CAR."""
        did = await self._available(hctx)
        path = f"{hctx.params['collection']}/{hctx.params['rkey']}"
        car = await record_proof_car(self.ctx.db, self.ctx.repos.store, did, path)
        return XrpcBody(car, CAR_TYPE)

    async def get_blocks(self, hctx: Call) -> XrpcBody:
        """getBlocks: the requested blocks as a root-less CAR; any missing one is an error."""
        did = await self._available(hctx)
        try:
            cids = [parse_cid(text) for text in hctx.params["cids"]]
        except InvalidCidError as exc:
            raise InvalidRequestError(f"Invalid cid: {exc}") from None
        async with self.ctx.db.read() as conn:
            found = await self.ctx.repos.store.get_blocks(conn, did, cids)
        missing = [cid.encode() for cid in cids if cid not in found]
        if missing:
            raise InvalidRequestError(f"Could not find cids: {','.join(missing)}")
        unique: dict[CID, bytes] = {cid: found[cid] for cid in cids}
        return XrpcBody(car_bytes(None, unique.items()), CAR_TYPE)

    async def list_repos(self, hctx: Call) -> dict[str, Any]:
        """listRepos: every hosted repo's head and hosting status, by DID."""
        limit: int = hctx.params.get("limit", 500)
        accounts = self.ctx.accounts.store
        repos = []
        async with self.ctx.db.read() as conn:
            roots = await self.ctx.repos.store.list_roots(conn, hctx.params.get("cursor"), limit)
            rows = {row.did: row for row in await accounts.by_dids(conn, [r.did for r in roots])}
        for root in roots:
            row = rows.get(root.did)
            status = "deleted" if row is None else hosting_status(row)
            item: dict[str, Any] = {
                "did": root.did,
                "head": root.commit_cid.encode(),
                "rev": root.rev,
                "active": status is None,
            }
            if status is not None:
                item["status"] = status
            repos.append(item)
        out: dict[str, Any] = {"repos": repos}
        if roots:
            out["cursor"] = roots[-1].did
        return out

    async def get_repo_status(self, hctx: Call) -> dict[str, Any]:
        """getRepoStatus: active or why not, and the rev of an active repo."""
        did: str = hctx.params["did"]
        row = await readable_account(self.ctx, did, owner_or_admin=True)
        status = hosting_status(row)
        out: dict[str, Any] = {"did": row.did, "active": status is None}
        if status is not None:
            out["status"] = status
        else:
            out["rev"] = (await self.ctx.repos.head(row.did)).rev
        return out


def register(router: XrpcRouter, ctx: PdsContext) -> None:
    """Serve ``com.atproto.sync.*`` (except the blob methods) and the firehose."""
    api = SyncApi(ctx)
    verifiers = ctx.auth

    def owner_or_admin(*extra: AuthScope) -> Any:
        return verifiers.optional(verifiers.admin_or(verifiers.access((*ACCESS_STANDARD, *extra))))

    router.query(f"{NSID}.getRepo", api.get_repo, auth=owner_or_admin(AuthScope.TAKENDOWN))
    router.query(f"{NSID}.getLatestCommit", api.get_latest_commit, auth=owner_or_admin())
    router.query(f"{NSID}.getRecord", api.get_record, auth=owner_or_admin())
    router.query(f"{NSID}.getBlocks", api.get_blocks, auth=owner_or_admin())
    router.query(f"{NSID}.listRepos", api.list_repos)
    router.query(f"{NSID}.getRepoStatus", api.get_repo_status)
    router.subscription(f"{NSID}.subscribeRepos", services(ctx).firehose.subscribe)
