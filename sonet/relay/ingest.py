"""Processing upstream events: account and host checks, verification, then re-emission.

https://atproto.com/specs/sync#relay-behavior and the reference relay's rules: an event about an
account is only trusted from the host its DID document names (re-resolved once before giving up,
in case the account just migrated); a new account is recorded on first sight (``host-throttled``
beyond the host's account limit); ``#commit`` and ``#sync`` must pass
:mod:`sonet.sync.verifier`, come from an active account and carry a rev above the last accepted
one (a ``#sync`` may restate it); ``#identity`` refreshes the cached DID document and is passed
on (its handle only when the document confirms it); ``#account`` updates the upstream status.
Everything else is dropped, counted per host and reason, and logged.

A batch from one host is handled in two passes so that verification runs in parallel: the first
pass resolves accounts and submits the checks, the second applies results in the host's order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Final

from sonet.relay.accounts import Account, AccountDirectory, RepoHead
from sonet.relay.config import RelayConfig
from sonet.relay.outbox import Outbox
from sonet.relay.stats import RelayStats
from sonet.relay.status import AccountStatus
from sonet.relay.verify_pool import VerifyPool
from sonet.repo.cid import CID
from sonet.repo.mst_proof import RepoOp
from sonet.sync.events import account_body, commit_body, identity_body, sync_body
from sonet.sync.identities import AccountIdentity, IdentityDirectory, IdentityUnavailableError
from sonet.sync.messages import (
    AccountEvent,
    CommitEvent,
    IdentityEvent,
    InfoEvent,
    MalformedEventError,
    SyncEvent,
    UpstreamEvent,
    event_did,
    event_seq,
    parse_ops,
)
from sonet.sync.verifier import DropReason, VerifyJob, VerifyOutcome

__all__ = ["HostContext", "Ingestor", "RejectedEvent"]

log = logging.getLogger(__name__)

PREV_DATA_MISMATCH: Final = "prev-data-mismatch"


@dataclass
class HostContext:
    """The host a batch came from; ``processed_seq`` is the last upstream seq fully handled."""

    id: int
    hostname: str
    processed_seq: int = -1


class RejectedEvent(Exception):
    """An event dropped for ``reason``."""

    def __init__(self, reason: DropReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(slots=True)
class _Plan:
    event: UpstreamEvent
    raw: bytes
    seq: int | None
    account: Account | None = None
    key: str | None = None
    ops: list[RepoOp] = field(default_factory=list)
    outcome: asyncio.Future[VerifyOutcome] | None = None
    identity: AccountIdentity | None = None
    rejected: RejectedEvent | None = None


class Ingestor:
    """Turns upstream events into the relay's own events."""

    def __init__(
        self,
        config: RelayConfig,
        accounts: AccountDirectory,
        identities: IdentityDirectory,
        pool: VerifyPool,
        outbox: Outbox,
        stats: RelayStats,
    ) -> None:
        self.config = config
        self.accounts = accounts
        self.identities = identities
        self.pool = pool
        self.outbox = outbox
        self.stats = stats
        self._tolerance_us = int(config.future_rev_tolerance * 1_000_000)

    async def handle(self, host: HostContext, items: list[tuple[bytes, UpstreamEvent]]) -> None:
        """Process a batch of one host's events, in order."""
        plans = [await self._prepare(host, raw, event) for raw, event in items]
        for plan in plans:
            try:
                if plan.rejected is not None:
                    raise plan.rejected
                await self._apply(host, plan)
            except RejectedEvent as exc:
                self.stats.drop(host.hostname, exc.reason.value, str(exc), event_did(plan.event))
            if plan.seq is not None:
                host.processed_seq = plan.seq
        await self.outbox.wait_room()

    # -- accounts --------------------------------------------------------------------------------

    def _hosted_on(self, identity: AccountIdentity, host: HostContext) -> bool:
        return self.config.skip_account_host_check or identity.pds_host == host.hostname

    async def _identity(self, did: str) -> AccountIdentity:
        try:
            return await self.identities.lookup(did)
        except IdentityUnavailableError as exc:
            raise RejectedEvent(DropReason.IDENTITY_UNAVAILABLE, str(exc)) from None

    async def _confirm_host(self, did: str, host: HostContext) -> AccountIdentity:
        """The identity of ``did`` if its document names ``host`` (re-resolving once)."""
        identity = await self._identity(did)
        if self._hosted_on(identity, host):
            return identity
        try:
            refreshed = await self.identities.refresh_if_allowed(did)
        except IdentityUnavailableError as exc:
            raise RejectedEvent(DropReason.IDENTITY_UNAVAILABLE, str(exc)) from None
        if refreshed is not None and self._hosted_on(refreshed, host):
            return refreshed
        raise RejectedEvent(
            DropReason.ACCOUNT_HOST_MISMATCH,
            f"{did} is hosted on {identity.pds_host}, not {host.hostname}",
        )

    async def _account_for(self, did: str, host: HostContext) -> Account:
        """The account, created or moved to ``host`` when its DID document agrees."""
        account = await self.accounts.get(did)
        if account is not None and account.host_id == host.id:
            return account
        await self._confirm_host(did, host)
        if account is None:
            return await self.accounts.create(did, host.id)
        await self.accounts.move(account, host.id)
        return account

    # -- first pass ------------------------------------------------------------------------------

    async def _prepare(self, host: HostContext, raw: bytes, event: UpstreamEvent) -> _Plan:
        plan = _Plan(event, raw, event_seq(event))
        if isinstance(event, IdentityEvent):
            # refreshed now, so that the events after it in this batch use the new document
            with contextlib.suppress(IdentityUnavailableError):
                plan.identity = await self.identities.refresh(event.did)
            return plan
        if not isinstance(event, CommitEvent | SyncEvent):
            return plan
        try:
            did = event.repo if isinstance(event, CommitEvent) else event.did
            # the usual case, an account known on this host and a fresh identity, without I/O
            account = self.accounts.cached(did)
            if account is None or account.host_id != host.id:
                account = await self._account_for(did, host)
            plan.account = account
            if isinstance(event, CommitEvent):
                plan.ops = self._ops(event)
            _check_rev(event, account.repo)
            identity = self.identities.cached(did) or await self._identity(did)
            if identity.key is None:
                raise RejectedEvent(DropReason.IDENTITY_UNAVAILABLE, "no #atproto signing key")
            plan.key = identity.key
            plan.outcome = self.pool.submit(self._job(plan, identity.key))
        except RejectedEvent as exc:
            plan.rejected = exc
        return plan

    @staticmethod
    def _ops(event: CommitEvent) -> list[RepoOp]:
        try:
            return parse_ops(event.ops)
        except MalformedEventError as exc:
            raise RejectedEvent(DropReason.BAD_OPS, str(exc)) from None

    def _job(self, plan: _Plan, key: str) -> VerifyJob:
        strict = not self.config.lenient_sync_validation
        return VerifyJob(plan.raw, key, strict, self._tolerance_us)

    # -- second pass -----------------------------------------------------------------------------

    async def _apply(self, host: HostContext, plan: _Plan) -> None:
        event = plan.event
        if isinstance(event, CommitEvent | SyncEvent):
            await self._apply_repo_event(host, plan, event)
        elif isinstance(event, IdentityEvent):
            await self._apply_identity(host, event, plan.identity)
        elif isinstance(event, AccountEvent):
            await self._apply_account(host, event)
        elif isinstance(event, InfoEvent):
            log.info("info from %s: %s %s", host.hostname, event.name, event.message)

    async def _verified(self, plan: _Plan, did: str) -> VerifyOutcome:
        assert plan.outcome is not None and plan.key is not None
        outcome = await plan.outcome
        current = self.identities.cached(did)
        if current is not None and current.key is not None and current.key != plan.key:
            # the identity changed after this event was submitted: check against the new key
            plan.key = current.key
            outcome = await self.pool.submit(self._job(plan, current.key))
        if outcome.reason == DropReason.BAD_SIGNATURE:
            # the key may have rotated without the relay noticing yet: look once more
            try:
                refreshed = await self.identities.refresh_if_allowed(did)
            except IdentityUnavailableError:
                refreshed = None
            if refreshed is not None and refreshed.key is not None and refreshed.key != plan.key:
                outcome = await self.pool.submit(self._job(plan, refreshed.key))
        if outcome.reason is not None:
            raise RejectedEvent(DropReason(outcome.reason), outcome.message or "")
        return outcome

    async def _apply_repo_event(
        self, host: HostContext, plan: _Plan, event: CommitEvent | SyncEvent
    ) -> None:
        account = plan.account
        assert account is not None
        outcome = await self._verified(plan, account.did)
        if not account.active:
            raise RejectedEvent(
                DropReason.INACTIVE_ACCOUNT, f"account status is {account.effective_status}"
            )
        previous = account.repo
        _check_rev(event, previous)
        for warning in outcome.warnings:
            self.stats.warn(host.hostname, warning, account.did)
        assert outcome.data_cid is not None
        data_cid = CID(outcome.data_cid)
        if isinstance(event, CommitEvent):
            self._check_prev_data(host, account, event, previous)
            self.accounts.record_repo(account, RepoHead(event.rev, event.commit, data_cid))
            body = commit_body(
                seq=0,
                repo=event.repo,
                commit=event.commit,
                rev=event.rev,
                since=event.since,
                blocks=event.blocks,
                ops=plan.ops,
                prev_data=event.prev_data,
                time=event.time,
                too_big=event.too_big,
            )
            self.outbox.emit(account.did, "#commit", body)
            self.stats.accepted[(host.hostname, "#commit")] += 1
            return
        assert outcome.commit_cid is not None
        self.accounts.record_repo(account, RepoHead(event.rev, CID(outcome.commit_cid), data_cid))
        body = sync_body(seq=0, did=event.did, blocks=event.blocks, rev=event.rev, time=event.time)
        self.outbox.emit(account.did, "#sync", body)
        self.stats.accepted[(host.hostname, "#sync")] += 1

    def _check_prev_data(
        self, host: HostContext, account: Account, event: CommitEvent, previous: RepoHead | None
    ) -> None:
        """``prevData`` may only be missing on an account's first commit (strict mode); one
        that differs from the last accepted commit's data is let through and counted."""
        if previous is None:
            return
        if event.prev_data is None:
            if not self.config.lenient_sync_validation:
                raise RejectedEvent(DropReason.MISSING_PREV_DATA, "commit has no prevData")
            self.stats.warn(host.hostname, DropReason.MISSING_PREV_DATA.value, account.did)
        elif event.prev_data != previous.data:
            self.stats.warn(host.hostname, PREV_DATA_MISMATCH, account.did)

    async def _apply_identity(
        self, host: HostContext, event: IdentityEvent, identity: AccountIdentity | None
    ) -> None:
        handle = event.handle
        try:
            await self._account_for(event.did, host)
        except RejectedEvent:
            handle = None  # anyone may say an identity changed; only its host may name a handle
        if identity is None or (handle is not None and identity.handle != handle.lower()):
            handle = None
        body = identity_body(seq=0, did=event.did, time=event.time, handle=handle)
        self.outbox.emit(event.did, "#identity", body)
        self.stats.accepted[(host.hostname, "#identity")] += 1

    async def _apply_account(self, host: HostContext, event: AccountEvent) -> None:
        account = await self._account_for(event.did, host)
        status = AccountStatus.upstream(event.active, event.status)
        if status != account.upstream_status:
            await self.accounts.set_upstream_status(account, status)
        body = account_body(
            seq=0,
            did=event.did,
            time=event.time,
            active=account.active,
            status=account.public_status,
        )
        self.outbox.emit(event.did, "#account", body)
        self.stats.accepted[(host.hostname, "#account")] += 1


def _check_rev(event: CommitEvent | SyncEvent, previous: RepoHead | None) -> None:
    """A commit's rev must be above the last accepted one; a ``#sync`` may restate it (a PDS
    announces a new account's first commit with both)."""
    if previous is None:
        return
    if event.rev < previous.rev or (isinstance(event, CommitEvent) and event.rev == previous.rev):
        raise RejectedEvent(
            DropReason.REV_OUT_OF_ORDER, f"rev {event.rev} is not after {previous.rev}"
        )
