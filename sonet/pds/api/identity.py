"""``com.atproto.identity.*``: handles, DID documents and PLC operations of hosted accounts.

- resolveHandle (https://atproto.com/specs/handle#handle-resolution): hosted accounts first; a
  handle under a user domain that is not hosted is ``HandleNotFound``; others go through the
  handle resolver (DNS TXT, then HTTPS well-known).
- updateHandle: :func:`sonet.pds.accounts.handle_update.update_handle` (validated as at account
  creation; a ``did:plc`` document updated with the PDS's rotation key, a ``did:web`` one must
  already claim the handle; stored and announced with an ``#identity`` event).
- getRecommendedDidCredentials, requestPlcOperationSignature, signPlcOperation and
  submitPlcOperation (https://web.plc.directory/spec/v0.1/did-plc, account migration): the checks
  of the reference PDS (a submitted op must keep this PDS's rotation key, endpoint, signing key
  and the account's handle).
- resolveDid, resolveIdentity and refreshIdentity
  (https://atproto.com/specs/handle#handle-resolution, bidirectional check): DID documents and
  verified handles (``handle.invalid`` when the document's handle does not point back).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import aiohttp

from sonet.identity.did_doc import parse_atproto_identity
from sonet.identity.errors import (
    DidNotFoundError,
    DidResolutionError,
    IdentityError,
    InvalidDidError,
    UnsupportedDidError,
)
from sonet.identity.plc_errors import DidTombstonedError, PlcError, PlcRequestError
from sonet.identity.plc_ops import (
    ATPROTO_PDS_TYPE,
    AnyOp,
    Operation,
    Service,
    UnsignedOperation,
    normalize_op,
    op_cid,
    sign_operation,
)
from sonet.identity.plc_validate import parse_operation
from sonet.net import NetError
from sonet.pds.accounts.auth import AccountAuth
from sonet.pds.accounts.events import sequence_identity
from sonet.pds.accounts.handle_update import update_handle
from sonet.pds.accounts.service import AccountService, account_service, setup_account_service
from sonet.pds.context import PdsContext
from sonet.pds.well_known import is_hosted_handle
from sonet.storage.pds_account_store import AccountRow
from sonet.syntax.handle import INVALID_HANDLE
from sonet.xrpc.auth import AccessCredentials
from sonet.xrpc.context import HandlerContext
from sonet.xrpc.errors import (
    ForbiddenError,
    InvalidRequestError,
    UpstreamFailureError,
)
from sonet.xrpc.ratelimit import RateLimit, account_key
from sonet.xrpc.router import XrpcRouter
from sonet.xrpc.tokens import ACCESS_FULL, AuthScope

__all__ = ["UPDATE_HANDLE_LIMITS", "register", "resolve_handle", "setup"]

log = logging.getLogger(__name__)

UPDATE_HANDLE_LIMITS: Final = (
    RateLimit("update-handle-5m", 10, 5 * 60, key=account_key),
    RateLimit("update-handle-day", 50, 24 * 3600, key=account_key),
)
"""The reference's per-account limits on handle changes."""
PLC_TOKEN: Final = "plc_operation"


async def resolve_handle(ctx: PdsContext, handle: str, *, refresh: bool = False) -> str | None:
    """The DID of ``handle``: an active hosted account's; ``None`` for any other handle under a
    user domain; else what DNS/HTTPS resolution says (``None`` when it says nothing)."""
    row = await ctx.accounts.lookup(handle)
    if row is not None and row.active:
        return row.did
    if is_hosted_handle(handle, ctx.config.user_domains):
        return None
    resolver = ctx.handle_resolver
    try:
        return await (resolver.refresh(handle) if refresh else resolver.resolve(handle))
    except IdentityError:
        return None


@contextmanager
def _plc_errors() -> Iterator[None]:
    """PLC directory failures as XRPC errors: refusals 400, outages 502."""
    try:
        yield
    except DidTombstonedError:
        raise InvalidRequestError("Did is tombstoned") from None
    except PlcRequestError as exc:
        if exc.status < 500:
            raise InvalidRequestError(
                f"PLC directory refused the operation: {exc.message}"
            ) from None
        raise UpstreamFailureError("PLC directory failed") from None
    except PlcError as exc:
        raise InvalidRequestError(str(exc)) from None
    except (aiohttp.ClientError, NetError, TimeoutError):
        raise UpstreamFailureError("PLC directory unreachable") from None


async def _account(ctx: PdsContext, did: str) -> AccountRow:
    """The caller's account."""
    row = await ctx.accounts.get(did)
    if row is None:
        raise ForbiddenError("Account not found", "AccountNotFound")
    return row


async def _refresh_did(ctx: PdsContext, did: str) -> None:
    """Re-resolve a DID after changing it, so cached documents are current (best effort)."""
    try:
        await ctx.did_resolver.refresh(did)
    except IdentityError as exc:
        log.warning("could not refresh %s after a PLC update: %s", did, exc)


def _recommended_credentials(
    service: AccountService, row: AccountRow, signing_did: str
) -> dict[str, Any]:
    config = service.ctx.config
    return {
        "alsoKnownAs": [f"at://{row.handle}"],
        "verificationMethods": {"atproto": signing_did},
        "rotationKeys": [service.rotation_key.did()],
        "services": {
            "atproto_pds": {"type": ATPROTO_PDS_TYPE, "endpoint": config.public_url},
        },
    }


def _signed_update(service: AccountService, last: AnyOp, changes: dict[str, Any]) -> Operation:
    """The update of ``last`` with the requested fields replaced, signed by the PDS."""
    if last["type"] == "plc_tombstone":
        raise InvalidRequestError("Did is tombstoned")
    base = normalize_op(last)
    unsigned = UnsignedOperation(
        type="plc_operation",
        rotationKeys=changes.get("rotationKeys", base["rotationKeys"]),
        verificationMethods=changes.get("verificationMethods", base["verificationMethods"]),
        alsoKnownAs=changes.get("alsoKnownAs", base["alsoKnownAs"]),
        services=changes.get("services", base["services"]),
        prev=op_cid(last),
    )
    with _plc_errors():
        op = parse_operation(sign_operation(unsigned, service.rotation_key))
    assert op["type"] == "plc_operation"
    return op


async def _check_submitted(
    ctx: PdsContext, service: AccountService, did: str, value: object
) -> Operation:
    """The submitted op, if it keeps this PDS in charge of the account (the reference's checks)."""
    try:
        op = parse_operation(value, allow_legacy=False)
    except PlcError:
        raise InvalidRequestError("Invalid operation") from None
    if op["type"] != "plc_operation":
        raise InvalidRequestError("Invalid operation")
    if service.rotation_key.did() not in op["rotationKeys"]:
        raise InvalidRequestError("Rotation keys do not include server's rotation key")
    pds: Service | None = op["services"].get("atproto_pds")
    if pds is None or pds["type"] != ATPROTO_PDS_TYPE:
        raise InvalidRequestError("Incorrect type on atproto_pds service")
    if pds["endpoint"] != ctx.config.public_url:
        raise InvalidRequestError("Incorrect endpoint on atproto_pds service")
    signing_did = (await ctx.accounts.signing_key(did)).did()
    if op["verificationMethods"].get("atproto") != signing_did:
        raise InvalidRequestError("Incorrect signing key")
    row = await _account(ctx, did)
    aliases = op["alsoKnownAs"]
    if row.handle and (not aliases or aliases[0] != f"at://{row.handle}"):
        raise InvalidRequestError("Incorrect handle in alsoKnownAs")
    return op


async def _identity_info(ctx: PdsContext, identifier: str, *, refresh: bool) -> dict[str, Any]:
    """``identityInfo`` of a DID or handle: its document and bidirectionally verified handle."""
    asked_handle = None if identifier.startswith("did:") else identifier.lower()
    if asked_handle is not None:
        did = await resolve_handle(ctx, asked_handle, refresh=refresh)
        if did is None:
            raise InvalidRequestError("Unable to resolve handle", "HandleNotFound")
    else:
        did = identifier
    doc = await _did_document(ctx, did, refresh=refresh)
    claimed = parse_atproto_identity(doc, did).handle
    if asked_handle is not None:
        verified = asked_handle if claimed == asked_handle else INVALID_HANDLE
    elif claimed is None:
        verified = INVALID_HANDLE
    else:
        back = await resolve_handle(ctx, claimed, refresh=refresh)
        verified = claimed if back == did else INVALID_HANDLE
    return {"did": did, "handle": verified, "didDoc": doc}


async def _did_document(ctx: PdsContext, did: str, *, refresh: bool) -> dict[str, Any]:
    resolver = ctx.did_resolver
    try:
        return await (resolver.refresh(did) if refresh else resolver.resolve(did))
    except DidNotFoundError:
        raise InvalidRequestError(f"DID not found: {did}", "DidNotFound") from None
    except (InvalidDidError, UnsupportedDidError) as exc:
        raise InvalidRequestError(str(exc)) from None
    except DidResolutionError:
        raise UpstreamFailureError(f"could not resolve {did}") from None
    except IdentityError:
        raise InvalidRequestError(f"DID document of {did} is invalid", "DidNotFound") from None


def register(router: XrpcRouter, ctx: PdsContext) -> None:
    """Serve the ``com.atproto.identity`` methods."""
    access = ctx.auth.access()
    plc_access = ctx.auth.access((*ACCESS_FULL, AuthScope.TAKENDOWN))

    async def resolve_handle_call(call: HandlerContext[None]) -> dict[str, Any]:
        handle = call.params["handle"].lower()
        did = await resolve_handle(ctx, handle)
        if did is None:
            hosted = is_hosted_handle(handle, ctx.config.user_domains)
            raise InvalidRequestError(
                "Unable to resolve handle", "HandleNotFound" if hosted else None
            )
        return {"did": did}

    async def update_handle_call(call: HandlerContext[AccessCredentials]) -> None:
        assert call.input is not None
        await update_handle(account_service(ctx), call.auth.did, call.input.body["handle"])
        await _refresh_did(ctx, call.auth.did)

    async def recommended_credentials(call: HandlerContext[AccessCredentials]) -> dict[str, Any]:
        service = account_service(ctx)
        row = await _account(ctx, call.auth.did)
        key = await ctx.accounts.signing_key(row.did)
        return _recommended_credentials(service, row, key.did())

    async def request_plc_signature(call: HandlerContext[AccessCredentials]) -> None:
        service = account_service(ctx)
        row = await ctx.accounts.get(call.auth.did)
        if row is None:
            raise InvalidRequestError("account not found")
        if not row.email:
            raise InvalidRequestError("account does not have an email address")
        token = await service.email_tokens.create(row.did, PLC_TOKEN)
        await service.mailer.send_token(row.email, PLC_TOKEN, token)

    async def sign_plc_operation(call: HandlerContext[AccessCredentials]) -> dict[str, Any]:
        service, did = account_service(ctx), call.auth.did
        assert call.input is not None
        body: dict[str, Any] = call.input.body
        token = body.get("token")
        if not token:
            raise InvalidRequestError("email confirmation token required to sign PLC operations")
        await service.email_tokens.check(did, PLC_TOKEN, token)
        async with ctx.db.write() as conn:
            await service.email_tokens.delete(conn, did, PLC_TOKEN)
        with _plc_errors():
            last = await service.plc_client().get_last_op(did)
        fields = ("rotationKeys", "alsoKnownAs", "verificationMethods", "services")
        changes = {name: body[name] for name in fields if body.get(name) is not None}
        return {"operation": _signed_update(service, last, changes)}

    async def submit_plc_operation(call: HandlerContext[AccessCredentials]) -> None:
        service, did = account_service(ctx), call.auth.did
        assert call.input is not None
        op = await _check_submitted(ctx, service, did, call.input.body["operation"])
        with _plc_errors():
            await service.plc_client().send_operation(did, op)
        async with ctx.sequencer.transaction() as tx:
            await sequence_identity(tx, did, None)
        await _refresh_did(ctx, did)

    async def resolve_did(call: HandlerContext[None]) -> dict[str, Any]:
        return {"didDoc": await _did_document(ctx, call.params["did"], refresh=False)}

    async def resolve_identity(call: HandlerContext[None]) -> dict[str, Any]:
        return await _identity_info(ctx, call.params["identifier"], refresh=False)

    async def refresh_identity(call: HandlerContext[AccessCredentials]) -> dict[str, Any]:
        assert call.input is not None
        return await _identity_info(ctx, call.input.body["identifier"], refresh=True)

    nsid = "com.atproto.identity."
    router.query(nsid + "resolveHandle", resolve_handle_call)
    router.procedure(
        nsid + "updateHandle",
        update_handle_call,
        auth=AccountAuth(ctx.auth, ctx.accounts).access(check_takedown=True),
        rate_limits=UPDATE_HANDLE_LIMITS,
    )
    router.query(nsid + "getRecommendedDidCredentials", recommended_credentials, auth=access)
    router.procedure(nsid + "requestPlcOperationSignature", request_plc_signature, auth=plc_access)
    router.procedure(nsid + "signPlcOperation", sign_plc_operation, auth=plc_access)
    router.procedure(nsid + "submitPlcOperation", submit_plc_operation, auth=access)
    router.query(nsid + "resolveDid", resolve_did)
    router.query(nsid + "resolveIdentity", resolve_identity)
    router.procedure(nsid + "refreshIdentity", refresh_identity, auth=access)


async def setup(ctx: PdsContext) -> None:
    """The accounts services this area uses: rotation key, email codes, mailer, PLC client."""
    await setup_account_service(ctx)
