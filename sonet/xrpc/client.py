"""A small outbound XRPC client (for the PDS proxy and the relay/AppView crawlers).

https://atproto.com/specs/xrpc#lexicon-http-endpoints: queries are GET and procedures POST to
``<service>/xrpc/<nsid>``; booleans are written ``true``/``false`` and arrays repeat the
parameter. Error responses (https://atproto.com/specs/xrpc#error-responses) become
:class:`~sonet.xrpc.errors.XRPCError` with the upstream status, name and message; network
failures become 502 ``UpstreamFailure`` and timeouts 504 ``UpstreamTimeout``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import aiohttp
import orjson
from multidict import CIMultiDictProxy

from sonet.xrpc.body import normalize_mime
from sonet.xrpc.errors import UpstreamFailureError, UpstreamTimeoutError, XRPCError
from sonet.xrpc.responses import JSON_TYPE, dump_json

__all__ = [
    "DEFAULT_MAX_RESPONSE",
    "ParamValue",
    "XrpcClient",
    "XrpcResponse",
    "encode_params",
]

DEFAULT_MAX_RESPONSE: Final = 16 * 1024 * 1024
"""Largest response body :meth:`XrpcClient.call` reads (use :meth:`XrpcClient.stream` beyond)."""

ParamValue: TypeAlias = str | int | bool | Sequence[str | int | bool] | None
RequestBody: TypeAlias = Mapping[str, Any] | bytes | AsyncIterable[bytes] | None


def _param_text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_params(params: Mapping[str, ParamValue] | None) -> list[tuple[str, str]]:
    """Query-string pairs for XRPC parameters (``None`` values are left out)."""
    pairs: list[tuple[str, str]] = []
    for name, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, str | int | bool):
            pairs.append((name, _param_text(value)))
        else:
            pairs.extend((name, _param_text(item)) for item in value)
    return pairs


@dataclass(frozen=True, slots=True)
class XrpcResponse:
    """A successful response, read whole."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def encoding(self) -> str | None:
        """The response's MIME type (without parameters)."""
        return normalize_mime(self.headers.get("Content-Type"))

    def json(self) -> Any:
        """The body decoded as JSON; :class:`UpstreamFailureError` if it is not."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise UpstreamFailureError("upstream answered invalid JSON") from None


async def _read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > limit:
        raise UpstreamFailureError("upstream response is too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise UpstreamFailureError("upstream response is too large")
        chunks.append(chunk)
    return b"".join(chunks)


async def _error_from(response: aiohttp.ClientResponse) -> XRPCError:
    """The :class:`XRPCError` an upstream error response stands for."""
    if response.status < 400:
        return UpstreamFailureError(f"upstream answered HTTP {response.status}")
    error = message = None
    with contextlib.suppress(UpstreamFailureError, ValueError):
        payload = orjson.loads(await _read_limited(response, 64 * 1024))
        if isinstance(payload, dict):
            error = payload.get("error") if isinstance(payload.get("error"), str) else None
            message = payload.get("message") if isinstance(payload.get("message"), str) else None
    headers = (
        {"Retry-After": response.headers["Retry-After"]}
        if "Retry-After" in response.headers
        else None
    )
    return XRPCError(response.status, error, message, headers)


class XrpcClient:
    """Calls the XRPC methods of the service at ``service`` (``https://host[:port]``) through
    ``session``. ``headers`` are sent with every call (say, service auth)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        service: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = 30.0,
        max_response: int = DEFAULT_MAX_RESPONSE,
    ) -> None:
        self.session = session
        self.service = service.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_response = max_response

    async def query(
        self,
        nsid: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """GET a query and return its JSON output."""
        return (await self.call("GET", nsid, params, headers=headers)).json()

    async def procedure(
        self,
        nsid: str,
        body: RequestBody = None,
        *,
        params: Mapping[str, ParamValue] | None = None,
        encoding: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """POST a procedure; return its JSON output (``None`` for an empty body)."""
        response = await self.call("POST", nsid, params, body, encoding=encoding, headers=headers)
        return response.json() if response.body else None

    async def call(
        self,
        method: str,
        nsid: str,
        params: Mapping[str, ParamValue] | None = None,
        body: RequestBody = None,
        *,
        encoding: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> XrpcResponse:
        """Make a call and read its whole (size-limited) response."""
        async with self.stream(
            method, nsid, params, body, encoding=encoding, headers=headers
        ) as response:
            try:
                data = await _read_limited(response, self.max_response)
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise _network_error(exc) from exc
            return XrpcResponse(response.status, response.headers, data)

    @contextlib.asynccontextmanager
    async def stream(
        self,
        method: str,
        nsid: str,
        params: Mapping[str, ParamValue] | None = None,
        body: RequestBody = None,
        *,
        encoding: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Make a call and yield the successful response unread (a CAR file, a blob)."""
        sent_headers = {**self.headers, **(headers or {})}
        data: Any = None
        if isinstance(body, Mapping):
            data = dump_json(body)
            sent_headers.setdefault("Content-Type", encoding or JSON_TYPE)
        elif body is not None:
            data = body
            sent_headers.setdefault("Content-Type", encoding or "application/octet-stream")
        try:
            async with self.session.request(
                method,
                f"{self.service}/xrpc/{nsid}",
                params=encode_params(params),
                data=data,
                headers=sent_headers,
                timeout=self.timeout,
                allow_redirects=False,
            ) as response:
                if not 200 <= response.status < 300:
                    raise await _error_from(response)
                yield response
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _network_error(exc) from exc


def _network_error(exc: BaseException) -> XRPCError:
    if isinstance(exc, TimeoutError):
        return UpstreamTimeoutError("upstream did not answer in time")
    return UpstreamFailureError(f"upstream request failed: {type(exc).__name__}")
