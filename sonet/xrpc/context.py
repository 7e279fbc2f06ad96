"""What an XRPC handler receives and may return.

https://atproto.com/specs/xrpc#lexicon-http-endpoints: a call carries query parameters, an
optional request body (JSON or raw bytes such as a blob) and returns a body of the encoding the
lexicon names.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeAlias, TypeVar

from aiohttp import web
from multidict import CIMultiDict

from sonet.xrpc.body import RawBody

__all__ = [
    "AuthT",
    "AuthVerifier",
    "Handler",
    "HandlerContext",
    "HandlerOutput",
    "XrpcBody",
    "XrpcInput",
    "XrpcStream",
]

AuthT = TypeVar("AuthT")


@dataclass(frozen=True, slots=True)
class XrpcInput:
    """A procedure's request body: decoded data-model JSON, or a size-limited raw stream."""

    encoding: str
    body: Any
    """Data-model value for ``application/json``; a :class:`RawBody` otherwise."""

    @property
    def raw(self) -> RawBody:
        """The body as a raw stream; :class:`TypeError` if it was decoded as JSON."""
        if not isinstance(self.body, RawBody):
            raise TypeError(f"the {self.encoding} input was decoded, it is not a raw stream")
        return self.body


@dataclass(slots=True)
class HandlerContext(Generic[AuthT]):
    """One XRPC call as seen by its handler (and by auth verifiers and rate-limit keys).

    ``auth`` is what the route's auth verifier returned (``None`` without one). Headers put in
    ``response_headers`` are sent with the response, successful or not.
    """

    nsid: str
    request: web.Request
    params: dict[str, Any] = field(default_factory=dict)
    input: XrpcInput | None = None
    auth: AuthT = None  # type: ignore[assignment]
    response_headers: CIMultiDict[str] = field(default_factory=CIMultiDict)


@dataclass(frozen=True, slots=True)
class XrpcBody:
    """A non-JSON (or pre-encoded) response body."""

    body: bytes
    encoding: str
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class XrpcStream:
    """A response body streamed chunk by chunk (a CAR export, a proxied blob)."""

    chunks: AsyncIterable[bytes]
    encoding: str
    headers: Mapping[str, str] | None = None


HandlerOutput: TypeAlias = Mapping[str, Any] | XrpcBody | XrpcStream | web.StreamResponse | None
"""A JSON-able data-model object, raw bytes, a stream, a ready aiohttp response, or nothing."""

Handler: TypeAlias = Callable[[HandlerContext[AuthT]], Awaitable[HandlerOutput]]
"""An XRPC query or procedure implementation."""

AuthVerifier: TypeAlias = Callable[[HandlerContext[Any]], Awaitable[AuthT]]
"""Authenticates a call (its ``params`` are parsed, its body not yet read); raises
:class:`~sonet.xrpc.errors.XRPCError` to refuse it."""
