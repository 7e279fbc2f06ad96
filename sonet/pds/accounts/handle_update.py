"""Changing an account's handle: checked, written to the DID document, stored, announced.

https://atproto.com/specs/handle: for a ``did:plc`` the PDS signs a PLC update with its rotation
key; a ``did:web`` document must already claim the new handle. Then the handle is stored and an
``#identity`` event sequenced in the same transaction.
"""

from __future__ import annotations

import aiohttp
from sqlalchemy.exc import IntegrityError

from sonet.identity.errors import IdentityError
from sonet.identity.plc_errors import PlcError
from sonet.net.errors import NetError
from sonet.pds.accounts.errors import AccountError, UpstreamError
from sonet.pds.accounts.events import sequence_identity
from sonet.pds.accounts.handles import validate_handle
from sonet.pds.accounts.service import AccountService

__all__ = ["update_handle"]

_FAILURES = (PlcError, IdentityError, NetError, aiohttp.ClientError, TimeoutError, OSError)


async def update_handle(
    service: AccountService, did: str, handle: str, *, allow_reserved: bool = False
) -> str:
    """Give ``did`` the handle ``handle``; returns it normalised."""
    ctx = service.ctx
    if await ctx.accounts.get(did) is None:
        raise AccountError("Account not found")
    normalized = await validate_handle(
        handle,
        ctx.config.user_domains,
        did=did,
        allow_reserved=allow_reserved,
        resolve=ctx.handle_resolver.resolve,
    )
    taken = await ctx.accounts.lookup(normalized)
    if taken is not None and taken.did != did:
        raise AccountError(f"Handle already taken: {normalized}", "HandleNotAvailable")
    try:
        if did.startswith("did:plc:"):
            await service.plc_client().update_atproto(did, service.rotation_key, handle=normalized)
        else:
            identity = await ctx.did_resolver.resolve_atproto(did, force_refresh=True)
            if identity.handle != normalized:
                raise AccountError("DID is not properly configured for handle")
    except _FAILURES as exc:
        raise UpstreamError(f"could not update the DID document: {exc}") from None
    try:
        async with ctx.sequencer.transaction() as tx:
            await ctx.accounts.store.set_fields(tx.conn, did, handle=normalized)
            await sequence_identity(tx, did, normalized)
    except IntegrityError:
        raise AccountError(f"Handle already taken: {normalized}", "HandleNotAvailable") from None
    return normalized
