"""Errors of PDS operations, each carrying the XRPC error name the reference answers with."""

from __future__ import annotations

from sonet.xrpc.errors import MappedError

__all__ = [
    "InvalidRecordError",
    "InvalidSwapError",
    "PdsError",
    "RecordNotFoundError",
    "RepoNotFoundError",
]


class PdsError(MappedError, ValueError):
    """A request the PDS refuses; ``status`` and ``error`` are its XRPC answer."""

    status = 400
    error = "InvalidRequest"


class InvalidRecordError(PdsError):
    """A record fails its lexicon, its key rules or the data model."""


class InvalidSwapError(PdsError):
    """``swapCommit`` or ``swapRecord`` does not match the current state."""

    error = "InvalidSwap"


class RepoNotFoundError(PdsError):
    """No repository is hosted here for that DID."""

    error = "RepoNotFound"


class RecordNotFoundError(PdsError):
    """No record at that path."""

    error = "RecordNotFound"
