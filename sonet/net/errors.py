"""Typed errors of :mod:`sonet.net`."""

from __future__ import annotations


class NetError(ValueError):
    """Base class for every error raised by :mod:`sonet.net`."""


class SsrfError(NetError):
    """A URL or address that outbound requests must not reach (private, loopback, ...)."""


class ResponseTooLargeError(NetError):
    """A response body longer than the caller's limit."""

    def __init__(self, limit: int, length: int | None = None) -> None:
        self.limit = limit
        self.length = length
        told = f" (Content-Length {length})" if length is not None else ""
        super().__init__(f"response body exceeds {limit} bytes{told}")


class FetchError(NetError):
    """A request that failed: connection, DNS, timeout, too many redirects, bad HTTP."""
