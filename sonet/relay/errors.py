"""Refused relay operations, with the XRPC error name and HTTP status the API answers with."""

from __future__ import annotations

__all__ = ["HostBannedError", "HostCheckError", "RelayError"]


class RelayError(ValueError):
    """A refused relay operation: ``error`` is the XRPC error name, ``status`` the HTTP status."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


class HostBannedError(RelayError):
    """The host or its domain is banned."""

    def __init__(self, message: str = "host or domain is banned") -> None:
        super().__init__(400, "HostBanned", message)


class HostCheckError(RelayError):
    """The host does not answer like a PDS."""

    def __init__(self, message: str) -> None:
        super().__init__(400, "HostNotFound", message)
