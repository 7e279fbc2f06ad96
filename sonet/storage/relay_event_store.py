"""The relay's re-sequenced event log in the database (the ``repo_seq`` table of
:mod:`sonet.storage.sequencer_store`).

The relay numbers events itself (one ingesting process), so it only needs to append whole batches
quickly (``append_many``: one round trip); reads, bounds and trimming are those of the PDS event
log.
"""

from __future__ import annotations

from sonet.storage.sequencer_store import MIGRATIONS, SequencerStore

__all__ = ["MIGRATIONS", "RelayEventStore"]


class RelayEventStore(SequencerStore):
    """The event log SQL, shared with the PDS."""
