"""Takedowns of single records and blobs: the ``com.atproto.repo.strongRef`` and
``com.atproto.admin.defs#repoBlobRef`` subjects of ``com.atproto.admin.updateSubjectStatus`` and
``getSubjectStatus`` (account subjects are :mod:`sonet.pds.accounts.lifecycle`'s).

As in the reference PDS: a taken-down record stays in the repository (and so in ``sync.getRepo``
and ``sync.getRecord`` proofs) but ``repo.getRecord`` and ``repo.listRecords`` no longer serve it;
a taken-down blob is not served by ``sync.getBlob`` nor referenced or uploaded again. Taking down
a subject that does not exist changes nothing and is not an error; its status is ``NotFound``.
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

from sonet.pds.accounts.times import now_us, to_datetime
from sonet.pds.api.blobs import SERVICE_KEY as BLOBS_KEY
from sonet.pds.blobs.errors import BlobNotFoundError
from sonet.pds.blobs.service import BlobService
from sonet.pds.context import PdsContext
from sonet.repo.cid import CID, InvalidCidError, parse_cid
from sonet.syntax.aturi import AtUri
from sonet.syntax.errors import InvalidSyntaxError
from sonet.xrpc.errors import InvalidRequestError

__all__ = [
    "BLOB_REF",
    "STRONG_REF",
    "blob_status",
    "record_status",
    "set_blob_takedown",
    "set_record_takedown",
    "takedown_ref",
]

STRONG_REF: Final = "com.atproto.repo.strongRef"
BLOB_REF: Final = "com.atproto.admin.defs#repoBlobRef"


def takedown_ref(status: dict[str, Any]) -> str | None:
    """The reference to store for a ``#statusAttr``: its ``ref`` (default: now) if applied."""
    return (status.get("ref") or to_datetime(now_us())) if status["applied"] else None


def _status(ref: str | None) -> dict[str, Any]:
    return {"applied": False} if ref is None else {"applied": True, "ref": ref}


async def _record_path(ctx: PdsContext, uri: str) -> tuple[str, str, str] | None:
    """(DID, collection, rkey) of a record URI on an account hosted here."""
    try:
        parsed = AtUri.parse(uri)
    except InvalidSyntaxError as exc:
        raise InvalidRequestError(str(exc)) from None
    if parsed.collection is None or parsed.rkey is None:
        raise InvalidRequestError(f"not a record URI: {uri}")
    account = await ctx.accounts.lookup(parsed.authority)
    return None if account is None else (account.did, parsed.collection, parsed.rkey)


async def set_record_takedown(ctx: PdsContext, uri: str, ref: str | None) -> None:
    """Take the record at ``uri`` down with moderation reference ``ref`` (None restores it)."""
    path = await _record_path(ctx, uri)
    if path is None:
        return
    async with ctx.db.write() as conn:
        await ctx.repos.store.set_record_takedown(conn, *path, ref)


async def record_status(ctx: PdsContext, uri: str) -> dict[str, Any] | None:
    """The record's strongRef and takedown state, None if there is no such record."""
    path = await _record_path(ctx, uri)
    if path is None:
        return None
    did, collection, rkey = path
    async with ctx.db.read() as conn:
        row = await ctx.repos.store.get_record(conn, did, collection, rkey)
    if row is None:
        return None
    subject = {
        "$type": STRONG_REF,
        "uri": f"at://{did}/{collection}/{rkey}",
        "cid": row.cid.encode(),
    }
    return {"subject": subject, "takedown": _status(row.takedown_ref)}


def _blobs(ctx: PdsContext) -> BlobService | None:
    service = ctx.services.get(BLOBS_KEY)
    return service if isinstance(service, BlobService) else None


def _cid(value: str) -> CID:
    try:
        return parse_cid(value)
    except InvalidCidError as exc:
        raise InvalidRequestError(str(exc)) from None


async def set_blob_takedown(ctx: PdsContext, did: str, cid: str, ref: str | None) -> None:
    """Take ``did``'s blob ``cid`` down with moderation reference ``ref`` (None restores it)."""
    blobs = _blobs(ctx)
    if blobs is None:
        return
    with contextlib.suppress(BlobNotFoundError):
        await blobs.set_takedown(did, _cid(cid), ref)


async def blob_status(ctx: PdsContext, did: str, cid: str) -> dict[str, Any] | None:
    """The blob's repoBlobRef and takedown state, None if ``did`` has no such blob."""
    blobs = _blobs(ctx)
    if blobs is None:
        return None
    try:
        row = await blobs.status(did, _cid(cid))
    except BlobNotFoundError:
        return None
    subject = {"$type": BLOB_REF, "did": did, "cid": row.cid}
    return {"subject": subject, "takedown": _status(row.takedown_ref)}
