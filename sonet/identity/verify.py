"""Bidirectional handle verification.

https://atproto.com/specs/handle#handle-resolution: a handle is valid for a DID
only if it resolves to that DID and the DID document claims that handle; if not,
the handle shown is ``handle.invalid``.
"""

from __future__ import annotations

from sonet.identity.did_doc import AtprotoIdentity
from sonet.identity.did_resolver import DidResolver
from sonet.identity.errors import IdentityError
from sonet.identity.handle_resolver import HandleResolver, normalize_handle_input
from sonet.syntax.handle import INVALID_HANDLE


async def verify_identity_handle(handles: HandleResolver, identity: AtprotoIdentity) -> str:
    """The handle the document claims if it resolves back to the DID, else ``handle.invalid``."""
    if identity.handle is None:
        return INVALID_HANDLE
    try:
        resolved = await handles.resolve(identity.handle)
    except IdentityError:
        return INVALID_HANDLE
    return identity.handle if resolved == identity.did else INVALID_HANDLE


async def verified_handle(dids: DidResolver, handles: HandleResolver, did: str) -> str:
    """The verified handle of ``did``, or ``handle.invalid``; DID resolution errors propagate."""
    return await verify_identity_handle(handles, await dids.resolve_atproto(did))


async def resolve_handle_verified(
    dids: DidResolver, handles: HandleResolver, handle: str
) -> AtprotoIdentity | None:
    """The identity ``handle`` resolves to, if its document claims ``handle`` back, else None."""
    wanted = normalize_handle_input(handle)
    did = await handles.resolve(wanted)
    if did is None:
        return None
    identity = await dids.resolve_atproto(did)
    return identity if identity.handle == wanted else None
