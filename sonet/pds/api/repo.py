"""``com.atproto.repo.*``: record writes, record reads, describeRepo and repository import.

https://atproto.com/specs/repository and the lexicons of ``com.atproto.repo``; behaviour (errors,
no-op deletes and puts, ``swapRecord``/``swapCommit``, the 200-write batch limit, cursors) is the
reference PDS's. Records arrive and leave as data-model JSON; blobs are another area's.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from aiohttp import web

from sonet.identity.did_doc import handle_from_doc
from sonet.identity.errors import IdentityError
from sonet.pds.context import PdsContext
from sonet.pds.errors import InvalidRecordError
from sonet.pds.proxy import get_proxy
from sonet.pds.repo_import import RepoImporter
from sonet.pds.repo_service import CommitResult, WriteResult
from sonet.pds.repo_writes import NO_SWAP, WriteRequest, prepare_write
from sonet.pds.sync_access import (
    hosting_status,
    readable_account,
    writable_account,
)
from sonet.repo import cbor
from sonet.repo.cid import CID, InvalidCidError, parse_cid
from sonet.storage.pds_account_store import AccountRow
from sonet.xrpc.auth import AccessCredentials
from sonet.xrpc.context import HandlerContext
from sonet.xrpc.errors import InvalidRequestError
from sonet.xrpc.router import XrpcRouter
from sonet.xrpc.tokens import ACCESS_FULL

__all__ = ["MAX_WRITES", "WRITE_JSON_LIMIT", "RepoApi", "register"]

NSID: Final = "com.atproto.repo"
APPLY_WRITES: Final = f"{NSID}.applyWrites"
MAX_WRITES: Final = 200
"""Most writes in one applyWrites call (the reference's limit)."""
WRITE_JSON_LIMIT: Final = 1_000_000
"""JSON body limit of the write methods (the reference's ``jsonLimit``)."""
PUT_ATTEMPTS: Final = 3

_ACTIONS: Final = {
    f"{APPLY_WRITES}#create": "create",
    f"{APPLY_WRITES}#update": "update",
    f"{APPLY_WRITES}#delete": "delete",
}

Auth = HandlerContext[AccessCredentials]
Query = HandlerContext[Any]


def _cid(value: str | None, field: str) -> CID | None:
    if value is None:
        return None
    try:
        return parse_cid(value)
    except InvalidCidError:
        raise InvalidRequestError(f"Invalid {field}: {value}") from None


def _commit_meta(commit: CommitResult) -> dict[str, str]:
    return {"cid": commit.commit_cid.encode(), "rev": commit.rev}


def _written(result: WriteResult) -> dict[str, Any]:
    assert result.cid is not None
    out: dict[str, Any] = {"uri": result.uri, "cid": result.cid.encode()}
    if result.validation_status is not None:
        out["validationStatus"] = result.validation_status
    return out


def _validate_flag(body: dict[str, Any]) -> bool | None:
    value = body.get("validate")
    return value if isinstance(value, bool) else None


class RepoApi:
    """The handlers of ``com.atproto.repo``, bound to one PDS."""

    def __init__(self, ctx: PdsContext) -> None:
        self.ctx = ctx
        self.importer = RepoImporter(ctx)

    # -- writes --------------------------------------------------------------------------------

    async def _owner(self, hctx: Auth) -> str:
        assert hctx.input is not None
        account = await writable_account(self.ctx, hctx.input.body["repo"], hctx.auth.did)
        return account.did

    async def _commit(
        self,
        did: str,
        writes: list[WriteRequest],
        body: dict[str, Any],
    ) -> CommitResult:
        return await self.ctx.repos.apply_writes(
            did,
            writes,
            validate=_validate_flag(body),
            swap_commit=_cid(body.get("swapCommit"), "swapCommit"),
        )

    async def create_record(self, hctx: Auth) -> dict[str, Any]:
        """com.atproto.repo.createRecord"""
        did = await self._owner(hctx)
        body = hctx.input.body  # type: ignore[union-attr]
        write = WriteRequest("create", body["collection"], body.get("rkey"), body["record"])
        commit = await self._commit(did, [write], body)
        return {**_written(commit.results[0]), "commit": _commit_meta(commit)}

    async def put_record(self, hctx: Auth) -> dict[str, Any]:
        """com.atproto.repo.putRecord: update the record if it exists, else create it; a record
        identical to the current one is a no-op without a commit."""
        did = await self._owner(hctx)
        body = hctx.input.body  # type: ignore[union-attr]
        collection, rkey, record = body["collection"], body["rkey"], body["record"]
        swap = _cid(body["swapRecord"], "swapRecord") if "swapRecord" in body else NO_SWAP
        for attempt in range(PUT_ATTEMPTS):
            current = await self._current_cid(did, collection, rkey)
            action: Literal["create", "update"] = "create" if current is None else "update"
            write = WriteRequest(action, collection, rkey, record, swap)
            if current is not None:
                prepared = prepare_write(self.ctx.lexicons, write, _validate_flag(body))
                if prepared.cid == current:  # the reference checks no swap here either
                    return _written(
                        WriteResult(
                            action,
                            f"at://{did}/{collection}/{rkey}",
                            current,
                            prepared.validation_status,
                        )
                    )
            try:
                commit = await self._commit(did, [write], body)
            except InvalidRecordError:
                # the record appeared or vanished between the look-up and the commit
                retry = attempt + 1 < PUT_ATTEMPTS
                if retry and await self._current_cid(did, collection, rkey) != current:
                    continue
                raise
            return {**_written(commit.results[0]), "commit": _commit_meta(commit)}
        raise InvalidRequestError("record kept changing; retry")  # pragma: no cover

    async def _current_cid(self, did: str, collection: str, rkey: str) -> CID | None:
        async with self.ctx.db.read() as conn:
            row = await self.ctx.repos.store.get_record(conn, did, collection, rkey)
        return None if row is None else row.cid

    async def delete_record(self, hctx: Auth) -> dict[str, Any]:
        """com.atproto.repo.deleteRecord: deleting an absent record succeeds without a commit."""
        did = await self._owner(hctx)
        body = hctx.input.body  # type: ignore[union-attr]
        collection, rkey = body["collection"], body["rkey"]
        if await self._current_cid(did, collection, rkey) is None:
            return {}
        swap = _cid(body.get("swapRecord"), "swapRecord")
        write = WriteRequest("delete", collection, rkey, None, NO_SWAP if swap is None else swap)
        try:
            commit = await self._commit(did, [write], body)
        except InvalidRecordError:
            if await self._current_cid(did, collection, rkey) is None:
                return {}  # deleted concurrently
            raise
        return {"commit": _commit_meta(commit)}

    async def apply_writes(self, hctx: Auth) -> dict[str, Any]:
        """com.atproto.repo.applyWrites: up to 200 creates, updates and deletes in one commit."""
        did = await self._owner(hctx)
        body = hctx.input.body  # type: ignore[union-attr]
        items: list[dict[str, Any]] = body["writes"]
        if len(items) > MAX_WRITES:
            raise InvalidRequestError(f"Too many writes. Max: {MAX_WRITES}")
        writes = []
        for item in items:
            action = _ACTIONS.get(item.get("$type", ""))
            if action is None:
                raise InvalidRequestError(f"Action not supported: {item.get('$type')}")
            record = item.get("value") if action != "delete" else None
            writes.append(
                WriteRequest(action, item["collection"], item.get("rkey"), record)  # type: ignore[arg-type]
            )
        commit = await self._commit(did, writes, body)
        return {"commit": _commit_meta(commit), "results": [_result(r) for r in commit.results]}

    # -- reads ---------------------------------------------------------------------------------

    async def _hosted(self, repo: str) -> AccountRow | None:
        """The active account named by ``repo``, if hosted here."""
        row = await self.ctx.accounts.lookup(repo)
        if row is None or hosting_status(row) is not None:
            return None
        return row

    async def get_record(self, hctx: Query) -> dict[str, Any] | web.StreamResponse:
        """com.atproto.repo.getRecord (``cid``: only if that is the current version); a
        taken-down record is not found. A repo not hosted (or not active) here is asked of the
        AppView, as the reference PDS does, when one is configured."""
        p = hctx.params
        account = await self._hosted(p["repo"])
        if account is None:
            proxy = get_proxy(self.ctx)
            if proxy.services.appview is None:
                raise InvalidRequestError("Could not locate record")
            return await proxy.pipethrough(hctx.request, hctx.nsid)
        uri = f"at://{account.did}/{p['collection']}/{p['rkey']}"
        async with self.ctx.db.read() as conn:
            row = await self.ctx.repos.store.get_record(
                conn, account.did, p["collection"], p["rkey"]
            )
        wanted = _cid(p.get("cid"), "cid")
        stale = wanted is not None and row is not None and row.cid != wanted
        if row is None or row.takedown_ref is not None or stale:
            raise InvalidRequestError(f"Could not locate record: {uri}", "RecordNotFound")
        return {"uri": uri, "cid": row.cid.encode(), "value": cbor.decode(row.block)}

    async def list_records(self, hctx: Query) -> dict[str, Any]:
        """com.atproto.repo.listRecords: newest rkey first, oldest first with ``reverse``;
        taken-down records are left out."""
        p = hctx.params
        account = await self._hosted(p["repo"])
        if account is None:
            raise InvalidRequestError(f"Could not find repo: {p['repo']}")
        async with self.ctx.db.read() as conn:
            rows = await self.ctx.repos.store.list_records(
                conn,
                account.did,
                p["collection"],
                p.get("limit", 50),
                p.get("cursor"),
                bool(p.get("reverse", False)),
            )
        out: dict[str, Any] = {
            "records": [
                {
                    "uri": f"at://{account.did}/{r.collection}/{r.rkey}",
                    "cid": r.cid.encode(),
                    "value": cbor.decode(r.block),
                }
                for r in rows
            ]
        }
        if rows:
            out["cursor"] = rows[-1].rkey
        return out

    async def describe_repo(self, hctx: Query) -> dict[str, Any]:
        """com.atproto.repo.describeRepo: identity as resolved now, and the collections."""
        account = await readable_account(self.ctx, hctx.params["repo"])
        try:
            doc = await self.ctx.did_resolver.resolve(account.did)
        except IdentityError as exc:
            raise InvalidRequestError(f"Could not resolve DID: {exc}") from None
        async with self.ctx.db.read() as conn:
            collections = await self.ctx.repos.store.collections(conn, account.did)
        return {
            "handle": account.handle,
            "did": account.did,
            "didDoc": doc,
            "collections": collections,
            "handleIsCorrect": handle_from_doc(doc) == account.handle,
        }

    # -- import --------------------------------------------------------------------------------

    async def import_repo(self, hctx: Auth) -> None:
        """com.atproto.repo.importRepo: replace the caller's repo with a verified CAR."""
        assert hctx.input is not None
        account = await self.ctx.accounts.get(hctx.auth.did)
        if account is None:
            raise InvalidRequestError("Account not found", "AccountNotFound")
        if hosting_status(account) in ("takendown", "suspended"):
            raise InvalidRequestError("Account has been taken down", "AccountTakedown")
        data = await hctx.input.raw.read_all()
        await self.importer.import_car(account.did, data)


def _result(result: WriteResult) -> dict[str, Any]:
    if result.action == "delete":
        return {"$type": f"{APPLY_WRITES}#deleteResult"}
    return {"$type": f"{APPLY_WRITES}#{result.action}Result", **_written(result)}


def register(router: XrpcRouter, ctx: PdsContext) -> None:
    """Serve ``com.atproto.repo.*`` (blob upload is the blobs area's)."""
    api = RepoApi(ctx)
    access = ctx.auth.access()
    for name, handler in (
        ("createRecord", api.create_record),
        ("putRecord", api.put_record),
        ("applyWrites", api.apply_writes),
    ):
        router.procedure(f"{NSID}.{name}", handler, auth=access, max_body=WRITE_JSON_LIMIT)
    router.procedure(f"{NSID}.deleteRecord", api.delete_record, auth=access)
    router.query(f"{NSID}.getRecord", api.get_record)
    router.query(f"{NSID}.listRecords", api.list_records)
    router.query(f"{NSID}.describeRepo", api.describe_repo)
    router.procedure(
        f"{NSID}.importRepo",
        api.import_repo,
        auth=ctx.auth.access(ACCESS_FULL),
        max_body=api.importer.max_bytes,
    )
