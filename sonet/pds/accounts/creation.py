"""Creating an account (com.atproto.server.createAccount), as the reference PDS does it.

Inputs are checked first (password length, invite code, email, handle, availability). Then the
DID: a new ``did:plc`` registered with the PLC directory (rotation keys: the optional
``recoveryKey`` first, then the PDS's own), or a DID the caller brings with service auth proving
they control it (a migration: the account starts deactivated, as imports do in the reference).
Finally one sequencer transaction stores the account, the invite use, the session and the empty
repository and sequences ``#identity``, ``#account``, ``#commit`` and ``#sync``, in that order.
An imported account's transaction sequences nothing; its activation will.
https://atproto.com/specs/account
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy.exc import IntegrityError

from sonet.crypto import CryptoError, Keypair, generate_keypair, parse_did_key
from sonet.identity.errors import IdentityError
from sonet.identity.plc_client import create_did
from sonet.identity.plc_document import format_did_doc
from sonet.identity.plc_errors import PlcError
from sonet.identity.plc_ops import op_to_data
from sonet.net.errors import NetError
from sonet.pds.accounts.directory import AccountDirectory
from sonet.pds.accounts.email_address import ensure_supported_email
from sonet.pds.accounts.errors import AccountAuthError, AccountError, UpstreamError
from sonet.pds.accounts.events import sequence_account, sequence_identity, sequence_sync
from sonet.pds.accounts.handles import validate_handle
from sonet.pds.accounts.passwords import NEW_PASSWORD_MAX_LENGTH, hash_password
from sonet.pds.accounts.service import AccountService
from sonet.pds.accounts.sessions import SessionPair
from sonet.pds.accounts.times import SECOND_US, now_us
from sonet.pds.sequencer import SequenceTransaction
from sonet.storage.sequencer_store import SequencedEvent

__all__ = ["IMPORT_DELETE_AFTER_US", "CreatedAccount", "NewAccount", "create_account"]

log = logging.getLogger(__name__)

IMPORT_DELETE_AFTER_US = 3 * 24 * 3600 * SECOND_US
"""An imported account not activated within 3 days may be deleted (the reference's window)."""


@dataclass(frozen=True, slots=True)
class NewAccount:
    """The createAccount input."""

    handle: str
    email: str | None = None
    password: str | None = None
    invite_code: str | None = None
    did: str | None = None
    recovery_key: str | None = None
    plc_op: Any = None


@dataclass(frozen=True, slots=True)
class CreatedAccount:
    """The new account's identity and first session."""

    did: str
    handle: str
    did_doc: dict[str, Any] | None
    session: SessionPair


@dataclass
class _Unsequenced(SequenceTransaction):
    """A transaction that writes but sequences nothing (an imported account's repo)."""

    async def sequence(self, did: str, kind: str, frame_for: Any) -> SequencedEvent:
        return SequencedEvent(0, did, kind, b"", now_us())


async def _check_inputs(service: AccountService, new: NewAccount) -> tuple[str, str]:
    """The normalised handle and email, after the reference's checks in its order."""
    ctx, config = service.ctx, service.ctx.config
    if new.plc_op is not None:
        raise AccountError('Unsupported input: "plcOp"')
    if new.password and len(new.password) > NEW_PASSWORD_MAX_LENGTH:
        raise AccountError(
            f"Password too long. Maximum length is {NEW_PASSWORD_MAX_LENGTH} characters."
        )
    if config.invite_required and not new.invite_code:
        raise AccountError("No invite code provided", "InvalidInviteCode")
    if not new.email:
        raise AccountError("Email is required")
    email = ensure_supported_email(new.email)
    handle = await validate_handle(
        new.handle, config.user_domains, did=new.did, resolve=ctx.handle_resolver.resolve
    )
    async with ctx.db.read() as conn:
        if new.invite_code:
            await service.invites.ensure_available(conn, new.invite_code)
        if await ctx.accounts.store.by_handle(conn, handle) is not None:
            raise AccountError(f"Handle already taken: {handle}", "HandleNotAvailable")
        if await ctx.accounts.store.by_email(conn, email) is not None:
            raise AccountError(f"Email already taken: {email}")
    return handle, email


async def _mint_did(
    service: AccountService, handle: str, signing_key: Keypair, recovery_key: str | None
) -> tuple[str, dict[str, Any]]:
    """Register a new ``did:plc``; returns it and its DID document."""
    rotation: list[str | Keypair] = [service.rotation_key]
    if recovery_key:
        try:
            parse_did_key(recovery_key)
        except CryptoError:
            raise AccountError("recoveryKey must be a did:key") from None
        rotation.insert(0, recovery_key)
    try:
        created = await create_did(
            service.plc_url,
            signing_key,
            rotation,
            handle,
            service.ctx.config.public_url,
            session=service.ctx.http.session(),
            signer=service.rotation_key,
        )
    except (PlcError, NetError, aiohttp.ClientError, TimeoutError, OSError) as exc:
        log.error("registering a did:plc for %s failed: %r", handle, exc)
        raise UpstreamError("could not register the DID with the PLC directory") from None
    data = op_to_data(created.did, created.operation)
    assert data is not None
    return created.did, format_did_doc(data)


async def _resolve_doc(service: AccountService, did: str) -> dict[str, Any] | None:
    try:
        return dict(await service.ctx.did_resolver.refresh(did))
    except (IdentityError, NetError, aiohttp.ClientError, TimeoutError, OSError):
        return None


async def _tombstone(service: AccountService, did: str) -> None:
    try:
        await service.plc_client().tombstone(did, service.rotation_key)
    except (PlcError, NetError, aiohttp.ClientError, TimeoutError, OSError) as exc:
        log.error("tombstoning %s after a failed signup failed: %r", did, exc)


async def create_account(
    service: AccountService, new: NewAccount, requester: str | None
) -> CreatedAccount:
    """Create the account; ``requester`` is the DID proven by service auth, if any."""
    ctx = service.ctx
    handle, email = await _check_inputs(service, new)
    signing_key = generate_keypair("k256")
    password_hash = await hash_password(new.password) if new.password else None
    imported = new.did is not None
    if new.did is not None:
        if new.did != requester:
            raise AccountAuthError(f"Missing auth to create account with did: {new.did}")
        did, did_doc = new.did, await _resolve_doc(service, new.did)
    else:
        did, did_doc = await _mint_did(service, handle, signing_key, new.recovery_key)
    now = now_us()
    row = AccountDirectory.new_row(
        did,
        handle,
        signing_key,
        email,
        password_hash,
        deactivated_at=now if imported else None,
        delete_after=now + IMPORT_DELETE_AFTER_US if imported else None,
    )
    try:
        async with ctx.sequencer.transaction() as tx:
            try:
                await ctx.accounts.store.insert(tx.conn, row)
            except IntegrityError:
                raise AccountError("Handle, email or DID already in use") from None
            if new.invite_code:
                await service.invites.claim(tx.conn, new.invite_code, did)
            session = await service.sessions.open_in(tx.conn, did)
            if imported:
                await ctx.repos.create_repo(_Unsequenced(tx.conn, ctx.sequencer), did, signing_key)
            else:
                await sequence_identity(tx, did, handle)
                await sequence_account(tx, did, "active")
                commit = await ctx.repos.create_repo(tx, did, signing_key)
                await sequence_sync(tx, ctx.repos, did, commit.commit_cid, commit.rev)
    except BaseException:
        ctx.repos.forget(did)
        if not imported:
            await _tombstone(service, did)
        raise
    return CreatedAccount(did, handle, did_doc, session)
