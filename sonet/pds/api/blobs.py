"""Blob XRPC methods: ``com.atproto.repo.uploadBlob``, ``com.atproto.repo.listMissingBlobs``,
``com.atproto.sync.getBlob`` and ``com.atproto.sync.listBlobs``, with the commit hook that ties
blobs to records.

https://atproto.com/specs/blob and https://atproto.com/specs/sync: statuses, error names and the
headers of ``getBlob`` are those of the reference PDS (a blob is served as an attachment with
``nosniff`` and a sandboxing CSP, so it can never run as a page of the PDS's origin).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from sonet.pds.accounts.service import setup_account_service
from sonet.pds.blobs.disk_store import DiskBlobStore
from sonet.pds.blobs.errors import BlobNotFoundError
from sonet.pds.blobs.service import BlobService
from sonet.pds.context import PdsContext
from sonet.pds.sync_access import hosting_status, is_owner_or_admin, readable_account
from sonet.repo.cid import CID, InvalidCidError, parse_cid
from sonet.storage import pds_blob_store
from sonet.storage.migrations import migrate
from sonet.xrpc.auth import AccessCredentials, AdminCredentials, ServiceCredentials
from sonet.xrpc.context import HandlerContext, XrpcStream
from sonet.xrpc.errors import AuthRequiredError, ForbiddenError, InvalidRequestError
from sonet.xrpc.router import XrpcRouter
from sonet.xrpc.tokens import ACCESS_STANDARD, AuthScope

__all__ = ["SERVICE_KEY", "blob_service", "close", "register", "setup"]

SERVICE_KEY: Final = __name__
"""Key of the :class:`BlobService` in ``ctx.services``."""
MIGRATION_COMPONENT: Final = "pds_blob"

SECURITY_HEADERS: Final = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; sandbox",
}
"""Sent with every blob: no type guessing, no scripts, no same-origin rendering."""

ReaderAuth = AccessCredentials | AdminCredentials | None


def blob_service(ctx: PdsContext) -> BlobService:
    """The blob service :func:`setup` installed."""
    service: BlobService = ctx.services[SERVICE_KEY]
    return service


async def setup(ctx: PdsContext) -> None:
    """Migrate the blob tables, start the blob service and hook it into the write path, into
    account deletion and into checkAccountStatus's blob counts."""
    await migrate(ctx.db, MIGRATION_COMPONENT, pds_blob_store.MIGRATIONS)
    service = BlobService(ctx.db, ctx.sequencer, DiskBlobStore(ctx.config.blobs_dir))
    await service.start()
    ctx.services[SERVICE_KEY] = service
    ctx.repos.blob_hook = service.on_commit
    accounts = await setup_account_service(ctx)
    accounts.deletion_hooks.append(service.delete_account)
    accounts.blob_counts = service.counts


async def close(ctx: PdsContext) -> None:
    """Stop the blob service's background work."""
    await blob_service(ctx).close()


def register(router: XrpcRouter, ctx: PdsContext) -> None:
    """Serve the blob methods."""
    service = blob_service(ctx)
    reader_auth = ctx.auth.optional(
        ctx.auth.admin_or(ctx.auth.access((*ACCESS_STANDARD, AuthScope.TAKENDOWN)))
    )

    async def upload_blob(
        hctx: HandlerContext[AccessCredentials | ServiceCredentials],
    ) -> dict[str, Any]:
        did = hctx.auth.did
        account = await ctx.accounts.get(did)
        if account is None:
            raise ForbiddenError("Account not found", "AccountNotFound")
        if hosting_status(account) in ("takendown", "suspended"):
            raise AuthRequiredError("Account has been taken down", "AccountTakedown")
        assert hctx.input is not None
        up = await service.upload(did, hctx.input.raw, hctx.input.encoding)
        ref = {"$type": "blob", "ref": up.cid, "mimeType": up.mime_type, "size": up.size}
        return {"blob": ref}

    async def get_blob(hctx: HandlerContext[ReaderAuth]) -> web.StreamResponse | XrpcStream:
        did = hctx.params["did"]
        await readable_account(ctx, did, owner_or_admin=is_owner_or_admin(hctx.auth, did))
        cid = _cid_param(hctx.params["cid"])
        try:
            row = await service.find(did, cid)
            headers = {
                **SECURITY_HEADERS,
                "content-disposition": f'attachment; filename="{row.cid}"',
                "content-type": row.mime_type or "application/octet-stream",
            }
            path = service.store.local_path(did, cid)
            if path is not None:
                if not await service.store.has(did, cid):
                    raise BlobNotFoundError("Blob not found")
                return web.FileResponse(path, headers=headers)
            chunks = await service.store.get_stream(did, cid)
        except BlobNotFoundError:
            raise InvalidRequestError("Blob not found") from None
        headers["content-length"] = str(row.size)
        return XrpcStream(chunks, headers.pop("content-type"), headers)

    async def list_blobs(hctx: HandlerContext[ReaderAuth]) -> dict[str, Any]:
        did = hctx.params["did"]
        await readable_account(ctx, did, owner_or_admin=is_owner_or_admin(hctx.auth, did))
        cids = await service.list_blobs(
            did,
            since=hctx.params.get("since"),
            cursor=hctx.params.get("cursor"),
            limit=hctx.params["limit"],
        )
        return {"cids": cids, "cursor": cids[-1]} if cids else {"cids": []}

    async def list_missing_blobs(hctx: HandlerContext[AccessCredentials]) -> dict[str, Any]:
        did = hctx.auth.did
        missing = await service.list_missing(
            did, cursor=hctx.params.get("cursor"), limit=hctx.params["limit"]
        )
        blobs = [{"cid": cid, "recordUri": f"at://{did}/{path}"} for cid, path in missing]
        return {"blobs": blobs, "cursor": missing[-1][0]} if missing else {"blobs": []}

    router.procedure(
        "com.atproto.repo.uploadBlob",
        upload_blob,
        auth=ctx.auth.access_or_service(),
        max_body=ctx.config.blob_upload_limit,
    )
    router.query("com.atproto.sync.getBlob", get_blob, auth=reader_auth)
    router.query("com.atproto.sync.listBlobs", list_blobs, auth=reader_auth)
    router.query("com.atproto.repo.listMissingBlobs", list_missing_blobs, auth=ctx.auth.access())


def _cid_param(value: str) -> CID:
    try:
        return parse_cid(value)
    except InvalidCidError as exc:
        raise InvalidRequestError(str(exc)) from None
