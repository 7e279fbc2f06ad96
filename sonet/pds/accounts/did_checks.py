"""Does an account's DID document point at this PDS? (checked on activation and by
com.atproto.server.checkAccountStatus).

https://atproto.com/specs/account#account-migration: an account may only become active here once
its DID document names this PDS as ``#atproto_pds``, carries the signing key the PDS holds and,
for ``did:plc``, keeps the PDS's rotation key.
"""

from __future__ import annotations

import aiohttp

from sonet.identity.errors import IdentityError
from sonet.identity.plc_errors import PlcError
from sonet.net.errors import NetError
from sonet.pds.accounts.errors import AccountError
from sonet.pds.accounts.service import AccountService

__all__ = ["check_did_for_service", "is_valid_did_for_service"]


async def check_did_for_service(service: AccountService, did: str) -> None:
    """400 ``InvalidRequest`` explaining what is wrong with ``did``'s document."""
    ctx = service.ctx
    if did.startswith("did:plc:"):
        try:
            data = await service.plc_client().get_document_data(did)
        except (PlcError, NetError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise AccountError(f"Could not resolve DID: {exc}") from None
        pds = data["services"].get("atproto_pds")
        endpoint = pds["endpoint"] if pds else None
        signing_key = data["verificationMethods"].get("atproto")
        if service.rotation_key.did() not in data["rotationKeys"]:
            raise AccountError("Server rotation key not included in PLC DID data")
    else:
        try:
            identity = await ctx.did_resolver.resolve_atproto(did, force_refresh=True)
        except (IdentityError, NetError, aiohttp.ClientError, TimeoutError, OSError):
            raise AccountError("Could not resolve DID") from None
        endpoint = identity.pds_endpoint
        signing_key = identity.signing_key.did() if identity.signing_key else None
    if endpoint is None or endpoint.rstrip("/") != ctx.config.public_url.rstrip("/"):
        raise AccountError(
            "DID document atproto_pds service endpoint does not match PDS public url"
        )
    expected = (await ctx.accounts.signing_key(did)).did()
    if signing_key != expected:
        raise AccountError("DID document verification method does not match expected signing key")


async def is_valid_did_for_service(service: AccountService, did: str) -> bool:
    """Whether :func:`check_did_for_service` passes."""
    try:
        await check_did_for_service(service, did)
    except AccountError:
        return False
    return True
