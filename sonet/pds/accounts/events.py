"""The ``#identity``, ``#account`` and ``#sync`` firehose events of account changes.

https://atproto.com/specs/sync#firehose and https://atproto.com/specs/account#hosting-status:
``#account`` carries ``active`` and, when inactive, the status; ``#sync`` carries the current
commit block so consumers can resynchronise (sent on creation and reactivation, as the
reference PDS does).
"""

from __future__ import annotations

from sonet.pds.repo_service import RepoService, now_iso
from sonet.pds.sequencer import SequenceTransaction
from sonet.repo.car import car_bytes
from sonet.repo.cid import CID
from sonet.sync.events import account_body, identity_body, sync_body
from sonet.xrpc.frames import MessageFrame

__all__ = ["sequence_account", "sequence_identity", "sequence_sync", "sequence_sync_block"]


async def sequence_identity(tx: SequenceTransaction, did: str, handle: str | None) -> None:
    """Sequence an ``#identity`` event (the handle or DID document may have changed)."""
    time = now_iso()
    await tx.sequence(
        did,
        "#identity",
        lambda seq: MessageFrame(
            identity_body(seq=seq, did=did, time=time, handle=handle), "#identity"
        ).to_bytes(),
    )


async def sequence_account(tx: SequenceTransaction, did: str, status: str) -> None:
    """Sequence an ``#account`` event for hosting ``status`` (``active``, ``deactivated``,
    ``takendown``, ``suspended`` or ``deleted``)."""
    time = now_iso()
    active = status == "active"
    await tx.sequence(
        did,
        "#account",
        lambda seq: MessageFrame(
            account_body(
                seq=seq, did=did, time=time, active=active, status=None if active else status
            ),
            "#account",
        ).to_bytes(),
    )


async def sequence_sync(
    tx: SequenceTransaction, repos: RepoService, did: str, commit: CID, rev: str
) -> None:
    """Sequence a ``#sync`` event carrying the repo's current commit block."""
    blocks = await repos.store.get_blocks(tx.conn, did, [commit])
    await sequence_sync_block(tx, did, commit, blocks[commit], rev)


async def sequence_sync_block(
    tx: SequenceTransaction, did: str, commit: CID, block: bytes, rev: str
) -> None:
    """Sequence a ``#sync`` event carrying the commit ``block`` (of CID ``commit``)."""
    car = car_bytes(commit, [(commit, block)])
    time = now_iso()
    await tx.sequence(
        did,
        "#sync",
        lambda seq: MessageFrame(
            sync_body(seq=seq, did=did, blocks=car, rev=rev, time=time), "#sync"
        ).to_bytes(),
    )
