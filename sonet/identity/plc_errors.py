"""Typed errors of the ``did:plc`` operation rules, directory and client.

https://web.plc.directory/spec/v0.1/did-plc
"""

from __future__ import annotations


class PlcError(ValueError):
    """Base class: a ``did:plc`` operation, log or request that the rules reject."""


class ImproperOperationError(PlcError):
    """An operation whose shape or field syntax is wrong (missing, extra or mistyped fields)."""


class OperationLimitError(PlcError):
    """An operation over one of the directory's size or count limits."""


class InvalidSignatureError(PlcError):
    """No allowed rotation key verifies the operation's signature (or ``sig`` is malformed)."""


class MisorderedOperationError(PlcError):
    """An operation that does not follow the log: unknown ``prev``, after a tombstone, etc."""


class LateRecoveryError(PlcError):
    """A fork that would nullify an operation older than the 72-hour recovery window."""


class GenesisHashError(PlcError):
    """A genesis operation whose hash does not give the DID it was submitted for."""


class RateLimitError(PlcError):
    """Too many operations for one DID within an hour, a day or a week."""


class AuditMismatchError(PlcError):
    """An audit log whose ``nullified`` flags or CIDs differ from what the rules produce."""


class AppendConflictError(PlcError):
    """A concurrent write changed the DID's log while this operation was being stored."""


class PlcRequestError(PlcError):
    """A PLC directory answered a request with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"PLC directory answered {status}: {message}")
        self.status = status
        self.message = message


class DidNotFoundError(PlcRequestError):
    """The directory has no operation for the DID (HTTP 404)."""


class DidTombstonedError(PlcRequestError):
    """The DID was deactivated by a tombstone (HTTP 410)."""
