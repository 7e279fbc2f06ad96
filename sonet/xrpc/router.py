"""The XRPC router shared by every Sonet role.

https://atproto.com/specs/xrpc#lexicon-http-endpoints: ``/xrpc/<nsid>`` with GET for a query,
POST for a procedure and a WebSocket upgrade for a subscription. Each call goes through the
steps of the reference server, in its order: HTTP method, lexicon parameters, authentication,
rate limits, request body (size-limited; JSON decoded and validated), handler, optional output
validation. Errors are JSON ``{"error", "message"}`` with the reference's statuses and names;
an unregistered method is 501 ``MethodNotImplemented`` unless a ``fallback`` (the PDS's proxy)
answers it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from aiohttp import web

from sonet.lexicons import (
    LexiconError,
    Lexicons,
    LexiconValidationError,
    parse_params,
    validate_input,
)
from sonet.syntax.nsid import is_valid_nsid
from sonet.xrpc.body import (
    RawBody,
    allowed_encodings,
    check_no_body,
    read_json_body,
    request_encoding,
)
from sonet.xrpc.context import (
    AuthT,
    AuthVerifier,
    Handler,
    HandlerContext,
    XrpcInput,
)
from sonet.xrpc.cors import setup_cors
from sonet.xrpc.errors import (
    InvalidRequestError,
    MethodNotImplementedError,
)
from sonet.xrpc.health import add_health_route
from sonet.xrpc.middleware import error_middleware, to_xrpc_error
from sonet.xrpc.output import OutputChecker, render_output
from sonet.xrpc.ratelimit import RateLimit, RateLimitBackend, RateLimiter
from sonet.xrpc.ratelimit_memory import MemoryRateLimitBackend
from sonet.xrpc.responses import JSON_TYPE, error_response
from sonet.xrpc.subscription import SubscriptionHandler, serve_subscription

__all__ = [
    "DEFAULT_BLOB_LIMIT",
    "DEFAULT_JSON_LIMIT",
    "Fallback",
    "XrpcRouter",
]

log = logging.getLogger(__name__)

DEFAULT_JSON_LIMIT: Final = 150 * 1024
"""Largest JSON request body by default (the reference PDS's 150 kB)."""
DEFAULT_BLOB_LIMIT: Final = 5 * 1024 * 1024
"""Largest raw request body by default."""

Fallback = Callable[[web.Request, str], Awaitable[web.StreamResponse]]
"""Answers calls of methods no handler is registered for: ``(request, nsid) -> response``."""

Kind = Literal["query", "procedure", "subscription"]
_ACCEPTED_METHODS: Final[dict[str, frozenset[str]]] = {
    "query": frozenset({"GET", "HEAD"}),
    "procedure": frozenset({"POST"}),
    "subscription": frozenset({"GET"}),
}


def _check_method(method: str, kind: str | None) -> None:
    """Refuse an HTTP method that does not fit the lexicon kind (unknown kinds pass)."""
    accepted = _ACCEPTED_METHODS.get(kind or "")
    if accepted is not None and method not in accepted:
        expected = "POST" if kind == "procedure" else "GET"
        raise InvalidRequestError(f"Incorrect HTTP method ({method}) expected {expected}")


@dataclass(frozen=True, slots=True)
class _InputSpec:
    """What a procedure accepts as its body."""

    encodings: tuple[str, ...]
    json: bool
    validated: bool
    limit: int


@dataclass(frozen=True, slots=True)
class _Route:
    nsid: str
    kind: Kind
    handler: Callable[[HandlerContext[Any]], Any]
    auth: AuthVerifier[Any] | None
    input: _InputSpec | None
    limiter: RateLimiter | None
    output: OutputChecker | None


class XrpcRouter:
    """Registers XRPC handlers by NSID and serves them on an aiohttp application.

    ``lexicons`` defines the methods (default: the bundled ``com.atproto``/``app.bsky`` ones).
    ``validate_output`` checks every JSON output and subscription message against its lexicon
    (for development and tests; costly in production). ``global_rate_limits`` apply to every
    XRPC call, counted in ``rate_limit_backend`` (in memory by default); ``rate_limit_bypass``
    exempts calls (trusted IPs, a bypass secret).
    """

    def __init__(
        self,
        lexicons: Lexicons | None = None,
        *,
        validate_output: bool = False,
        json_limit: int = DEFAULT_JSON_LIMIT,
        blob_limit: int = DEFAULT_BLOB_LIMIT,
        rate_limit_backend: RateLimitBackend | None = None,
        global_rate_limits: Sequence[RateLimit] = (),
        rate_limit_bypass: Callable[[HandlerContext[Any]], bool] | None = None,
        fallback: Fallback | None = None,
    ) -> None:
        self.lexicons = Lexicons.bundled() if lexicons is None else lexicons
        self.validate_output = validate_output
        self.json_limit = json_limit
        self.blob_limit = blob_limit
        self.rate_limit_backend = rate_limit_backend or MemoryRateLimitBackend()
        self.global_rate_limits = tuple(global_rate_limits)
        self.rate_limit_bypass = rate_limit_bypass
        self.fallback = fallback
        self._global_limiter = self._limiter(())
        self._routes: dict[str, _Route] = {}

    # registration

    def query(
        self,
        nsid: str,
        handler: Handler[AuthT],
        *,
        auth: AuthVerifier[AuthT] | None = None,
        rate_limits: Sequence[RateLimit] = (),
    ) -> None:
        """Serve the lexicon query ``nsid`` (GET) with ``handler``."""
        self._add(nsid, "query", handler, auth, rate_limits, None)

    def procedure(
        self,
        nsid: str,
        handler: Handler[AuthT],
        *,
        auth: AuthVerifier[AuthT] | None = None,
        rate_limits: Sequence[RateLimit] = (),
        max_body: int | None = None,
    ) -> None:
        """Serve the lexicon procedure ``nsid`` (POST); ``max_body`` overrides the body limit."""
        self._add(nsid, "procedure", handler, auth, rate_limits, max_body)

    def subscription(
        self,
        nsid: str,
        handler: SubscriptionHandler,
        *,
        auth: AuthVerifier[Any] | None = None,
    ) -> None:
        """Serve the lexicon subscription ``nsid`` (WebSocket) with an async generator."""
        self._add(nsid, "subscription", handler, auth, (), None)

    def _add(
        self,
        nsid: str,
        kind: Kind,
        handler: Callable[[HandlerContext[Any]], Any],
        auth: AuthVerifier[Any] | None,
        rate_limits: Sequence[RateLimit],
        max_body: int | None,
    ) -> None:
        definition = self.lexicons.get_def(nsid, (kind,))
        if nsid in self._routes:
            raise LexiconError(f"a handler for {nsid} is already registered")
        output = None
        if kind != "subscription" and self.validate_output:
            output = OutputChecker(self.lexicons, nsid, definition.get("output"))
        self._routes[nsid] = _Route(
            nsid=nsid,
            kind=kind,
            handler=handler,
            auth=auth,
            input=self._input_spec(definition, max_body) if kind == "procedure" else None,
            limiter=self._limiter(rate_limits) if kind != "subscription" else None,
            output=output,
        )

    def _input_spec(self, definition: Mapping[str, Any], max_body: int | None) -> _InputSpec | None:
        body = definition.get("input")
        if body is None:
            return None
        encodings = allowed_encodings(body["encoding"])
        is_json = JSON_TYPE in encodings
        default = self.json_limit if is_json else self.blob_limit
        limit = default if max_body is None else max_body
        return _InputSpec(encodings, is_json, "schema" in body, limit)

    def _limiter(self, limits: Sequence[RateLimit]) -> RateLimiter | None:
        combined = (*limits, *self.global_rate_limits)
        if not combined:
            return None
        return RateLimiter(self.rate_limit_backend, combined, bypass=self.rate_limit_bypass)

    def __contains__(self, nsid: object) -> bool:
        return nsid in self._routes

    # serving

    def install(self, app: web.Application, *, cors: bool = True) -> None:
        """Add ``/xrpc/_health``, the XRPC routes, JSON errors and (by default) CORS to ``app``."""
        add_health_route(app)
        app.router.add_route("*", "/xrpc/{nsid}", self.dispatch)
        app.router.add_route("*", "/xrpc/{tail:.*}", _invalid_path)
        app.middlewares.append(error_middleware)
        if cors:
            setup_cors(app)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        """Serve one ``/xrpc/{nsid}`` request."""
        nsid = request.match_info["nsid"]
        route = self._routes.get(nsid)
        ctx: HandlerContext[Any] = HandlerContext(nsid, request)
        try:
            if route is None:
                return await self._unrouted(ctx)
            if route.kind == "subscription":
                return await self._subscribe(route, ctx)
            return await self._call(route, ctx)
        except Exception as exc:
            if request.writer.output_size > 0:
                raise  # a streamed response failed midway: aiohttp drops the connection
            return error_response(to_xrpc_error(request, exc), ctx.response_headers)

    async def _prepare(self, route: _Route, ctx: HandlerContext[Any]) -> None:
        """Parameters and authentication (shared by calls and subscriptions)."""
        try:
            ctx.params = parse_params(self.lexicons, route.nsid, ctx.request.query)
        except LexiconValidationError as exc:
            raise InvalidRequestError(str(exc)) from None
        if route.auth is not None:
            ctx.auth = await route.auth(ctx)

    async def _call(self, route: _Route, ctx: HandlerContext[Any]) -> web.StreamResponse:
        request = ctx.request
        _check_method(request.method, route.kind)
        await self._prepare(route, ctx)
        if route.limiter is not None:
            await route.limiter.check(ctx)
        ctx.input = await self._read_input(route.nsid, route.input, request)
        output = await route.handler(ctx)
        if route.output is not None:
            route.output.check(output)
        return await render_output(request, output, ctx.response_headers)

    async def _read_input(
        self, nsid: str, spec: _InputSpec | None, request: web.Request
    ) -> XrpcInput | None:
        if spec is None:
            await check_no_body(request)
            return None
        if not request.body_exists:
            raise InvalidRequestError("A request body is expected but none was provided")
        encoding = request_encoding(request, spec.encodings)
        if not (spec.json and encoding == JSON_TYPE):
            return XrpcInput(encoding, RawBody(request, spec.limit))
        body = await read_json_body(request, spec.limit)
        if spec.validated:
            try:
                body = validate_input(self.lexicons, nsid, body)
            except LexiconValidationError as exc:
                raise InvalidRequestError(str(exc)) from None
        return XrpcInput(encoding, body)

    async def _subscribe(self, route: _Route, ctx: HandlerContext[Any]) -> web.StreamResponse:
        _check_method(ctx.request.method, route.kind)
        if not web.WebSocketResponse().can_prepare(ctx.request).ok:
            raise InvalidRequestError(f"{route.nsid} is a subscription: a WebSocket is expected")

        async def prepare(sub_ctx: HandlerContext[Any]) -> None:
            await self._prepare(route, sub_ctx)

        lexicons = self.lexicons if self.validate_output else None
        return await serve_subscription(ctx, prepare, route.handler, lexicons)

    async def _unrouted(self, ctx: HandlerContext[Any]) -> web.StreamResponse:
        request, nsid = ctx.request, ctx.nsid
        if not is_valid_nsid(nsid):
            raise InvalidRequestError("invalid xrpc path")
        if self._global_limiter is not None:
            await self._global_limiter.check(ctx)
        document = self.lexicons.get(nsid)
        main = document.defs.get("main") if document is not None else None
        _check_method(request.method, main["type"] if main is not None else None)
        if self.fallback is not None:
            response = await self.fallback(request, nsid)
            if not response.prepared:
                response.headers.extend(ctx.response_headers)
            return response
        raise MethodNotImplementedError()


async def _invalid_path(_request: web.Request) -> web.StreamResponse:
    raise InvalidRequestError("invalid xrpc path")
