"""Hosting-status changes of accounts: deactivation, activation, takedown and deletion.

https://atproto.com/specs/account#hosting-status: every change is written together with the
``#account`` event that announces it, in one sequencer transaction. Activation also sequences
``#identity`` and ``#sync`` (as the reference PDS does) so consumers catch up on the account.
"""

from __future__ import annotations

from sonet.pds.accounts.did_checks import check_did_for_service
from sonet.pds.accounts.errors import AccountError
from sonet.pds.accounts.events import sequence_account, sequence_identity, sequence_sync
from sonet.pds.accounts.service import AccountService
from sonet.pds.accounts.times import now_us, to_datetime
from sonet.pds.sequencer import SequenceTransaction
from sonet.storage.pds_account_store import AccountRow, status_of
from sonet.storage.pds_session_store import SessionStore

__all__ = [
    "activate_account",
    "deactivate_account",
    "delete_account",
    "sequence_status",
    "set_takedown",
]


async def _locked_row(service: AccountService, tx: SequenceTransaction, did: str) -> AccountRow:
    row = await service.ctx.accounts.store.by_did(tx.conn, did)
    if row is None:
        raise AccountError("Account not found")
    return row


async def deactivate_account(service: AccountService, did: str, delete_after: int | None) -> str:
    """Deactivate ``did`` (optionally scheduling deletion); returns the resulting status."""
    store = service.ctx.accounts.store
    async with service.ctx.sequencer.transaction() as tx:
        row = await _locked_row(service, tx, did)
        deactivated_at = now_us()
        await store.set_status(
            tx.conn,
            did,
            takedown_ref=row.takedown_ref,
            deactivated_at=deactivated_at,
            delete_after=delete_after,
        )
        status = status_of(row.takedown_ref, deactivated_at)
        await sequence_account(tx, did, status)
    return status


async def activate_account(service: AccountService, did: str) -> None:
    """Reactivate ``did`` once its DID document points here; taken-down accounts stay down."""
    await check_did_for_service(service, did)
    ctx = service.ctx
    async with ctx.sequencer.transaction() as tx:
        row = await ctx.accounts.store.by_did(tx.conn, did)
        if row is None or row.takedown_ref:
            raise AccountError("user not found", "AccountNotFound")
        await ctx.accounts.store.set_status(
            tx.conn, did, takedown_ref=None, deactivated_at=None, delete_after=None
        )
        root = await ctx.repos.store.get_root(tx.conn, did)
        await sequence_account(tx, did, "active")
        await sequence_identity(tx, did, row.handle)
        if root is not None:
            await sequence_sync(tx, ctx.repos, did, root.commit_cid, root.rev)


async def set_takedown(service: AccountService, did: str, applied: bool, ref: str | None) -> None:
    """Take ``did`` down (reference ``ref``, default the current time) or restore it; either way
    its sessions end and an ``#account`` event is sequenced."""
    ctx = service.ctx
    async with ctx.sequencer.transaction() as tx:
        row = await _locked_row(service, tx, did)
        takedown_ref = (ref or to_datetime(now_us())) if applied else None
        await ctx.accounts.store.set_status(
            tx.conn,
            did,
            takedown_ref=takedown_ref,
            deactivated_at=row.deactivated_at,
            delete_after=row.delete_after,
        )
        await service.sessions.revoke_all(tx.conn, did)
        await sequence_account(tx, did, status_of(takedown_ref, row.deactivated_at))


async def sequence_status(service: AccountService, did: str) -> None:
    """Sequence the account's current status again (``deleted`` if it is not hosted here)."""
    ctx = service.ctx
    async with ctx.sequencer.transaction() as tx:
        row = await ctx.accounts.store.by_did(tx.conn, did)
        await sequence_account(tx, did, "deleted" if row is None else row.status)


async def delete_account(service: AccountService, did: str) -> None:
    """Remove the account, its sessions, app passwords, email codes, repository and earlier
    firehose events (and run the service's deletion hooks), then sequence ``#account`` with
    status ``deleted``, all in one transaction (the reference keeps only that last event)."""
    ctx = service.ctx
    async with ctx.sequencer.transaction() as tx:
        await ctx.accounts.store.delete(tx.conn, did)
        await SessionStore().delete_account(tx.conn, did)
        await service.email_tokens.delete(tx.conn, did)
        await ctx.repos.store.delete_repo(tx.conn, did)
        for hook in service.deletion_hooks:
            await hook(tx, did)
        await sequence_account(tx, did, "deleted")
        await tx.purge(did)
    ctx.repos.forget(did)
    ctx.accounts.forget_key(did)
