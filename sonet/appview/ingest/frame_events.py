"""One ``subscribeRepos`` message to what the AppView does with it.

https://atproto.com/specs/sync#firehose: ``#commit`` -> record operations (or a resync of the
repo when the commit is ``tooBig``, which carries no usable blocks); ``#sync`` -> resync the repo
from ``getRepo``; ``#identity`` -> resolve the handle again; ``#account`` -> hosting status;
``#info`` and unknown types are logged and skipped; an error frame ends the connection.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sonet.appview.ingest.commit_reader import CommitVerifier, commit_item
from sonet.appview.ingest.errors import SourceError
from sonet.appview.ingest.events import AccountChange, IdentityChange, IndexEvent
from sonet.lexicons import Lexicons
from sonet.sync.messages import (
    AccountEvent,
    CommitEvent,
    IdentityEvent,
    InfoEvent,
    MalformedEventError,
    SyncEvent,
    UpstreamEvent,
    event_seq,
    parse_frame,
)
from sonet.xrpc.frames import ErrorFrame

__all__ = ["Decoded", "FrameDecoder"]


@dataclass(slots=True)
class Decoded:
    """``seq`` of the message (None if unsequenced or unreadable), its index ``event``, a DID
    to ``resync``, an ``info`` or ``error`` name."""

    seq: int | None = None
    event: IndexEvent | None = None
    resync: str | None = None
    info: str | None = None
    error: ErrorFrame | None = None
    problems: list[str] = field(default_factory=list)


class FrameDecoder:
    """Decodes (and, with a verifier, verifies) messages; ``stats`` counts what was dropped."""

    def __init__(self, lexicons: Lexicons, verifier: CommitVerifier | None = None) -> None:
        self.lexicons = lexicons
        self.verifier = verifier
        self.stats: Counter[str] = Counter()

    def _parse(self, frame: bytes) -> UpstreamEvent | Decoded:
        try:
            message = parse_frame(frame)
        except MalformedEventError as exc:
            self.stats["malformed_frames"] += 1
            return Decoded(problems=[str(exc)])
        if isinstance(message, ErrorFrame):
            return Decoded(error=message)
        return message

    def _interpret(self, message: UpstreamEvent, out: Decoded) -> None:
        if isinstance(message, CommitEvent):
            if message.too_big:
                out.resync = message.repo
            else:
                out.event = commit_item(message, self.lexicons, self.stats)
        elif isinstance(message, SyncEvent):
            out.resync = message.did
        elif isinstance(message, IdentityEvent):
            out.event = IdentityChange(message.seq, message.did)
        elif isinstance(message, AccountEvent):
            out.event = AccountChange(message.seq, message.did, message.active, message.status)
        elif isinstance(message, InfoEvent):
            out.info = message.name
        else:
            self.stats["unknown_messages"] += 1

    def decode_unverified(self, frame: bytes) -> Decoded:
        """What to do with one message, trusting its source (a relay); never raises for bad
        input."""
        message = self._parse(frame)
        if isinstance(message, Decoded):
            return message
        out = Decoded(seq=event_seq(message))
        try:
            self._interpret(message, out)
        except SourceError as exc:
            self.stats["rejected_events"] += 1
            out.problems.append(str(exc))
        return out

    async def decode(self, frame: bytes) -> Decoded:
        """What to do with one message, verified first when there is a verifier; never raises
        for bad input."""
        if self.verifier is None:
            return self.decode_unverified(frame)
        message = self._parse(frame)
        if isinstance(message, Decoded):
            return message
        out = Decoded(seq=event_seq(message))
        try:
            if isinstance(message, CommitEvent | SyncEvent):
                await self.verifier.check(message)
            elif isinstance(message, IdentityEvent):
                self.verifier.identities.forget(message.did)  # key or PDS may have changed
            self._interpret(message, out)
        except SourceError as exc:
            self.stats["rejected_events"] += 1
            out.problems.append(str(exc))
        return out
