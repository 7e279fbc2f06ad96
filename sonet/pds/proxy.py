"""The PDS's service proxy: calls it does not serve go to the AppView, chat or another service.

https://atproto.com/specs/xrpc#service-proxying: an unrouted call (the router's ``fallback``) is
authenticated with the caller's session, sent to the service named by the ``atproto-proxy``
header (``<did>#<service id>``) or to the configured default for its NSID, with a service-auth
JWT (https://atproto.com/specs/xrpc#inter-service-authentication-jwt) signed by the caller's
repo key: ``iss`` the caller's DID, ``aud`` the service's DID, ``lxm`` the NSID, valid 60 s.
Selected request headers and the body go along; the answer is streamed back. Outbound requests
go through the PDS's SSRF-safe HTTP client, so private addresses are refused unless the config
allows them.

As an area module, ``setup`` keeps a :class:`Proxy` in ``ctx.services`` and ``register`` makes it
the router's fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from sonet.net import NetError
from sonet.pds.context import PdsContext
from sonet.pds.proxy_methods import is_privileged_method, is_protected_method
from sonet.pds.proxy_target import (
    PROXY_HEADER,
    ProxyServices,
    ProxyTarget,
    resolve_proxy_target,
)
from sonet.pds.proxy_upstream import relay_response, upstream_error
from sonet.xrpc.auth import AccessCredentials
from sonet.xrpc.body import RawBody
from sonet.xrpc.context import HandlerContext
from sonet.xrpc.errors import (
    InvalidRequestError,
    UpstreamFailureError,
    UpstreamTimeoutError,
)
from sonet.xrpc.router import DEFAULT_BLOB_LIMIT, XrpcRouter
from sonet.xrpc.service_jwt import create_service_jwt
from sonet.xrpc.tokens import ACCESS_PRIVILEGED

__all__ = ["Proxy", "ProxyLimits", "get_proxy", "register", "setup"]

SERVICE_KEY: Final = __name__
FORWARDED_REQUEST_HEADERS: Final = ("Accept-Language", "atproto-accept-labelers", "X-Bsky-Topics")
BODY_HEADERS: Final = ("Content-Type", "Content-Encoding")
_METHODS: Final = frozenset({"GET", "HEAD", "POST"})


@dataclass(frozen=True, slots=True)
class ProxyLimits:
    """Bounds of one proxied call: request and response body sizes (bytes), the time to wait
    for the upstream's headers and between body reads, and the connect time (seconds)."""

    max_request_bytes: int = DEFAULT_BLOB_LIMIT
    max_response_bytes: int = 10 * 1024 * 1024
    read_timeout: float = 10.0
    connect_timeout: float = 5.0


def _refuse_dpop(request: web.Request) -> None:
    scheme = request.headers.get("Authorization", "").split(" ", 1)[0]
    if scheme.lower() == "dpop" or "DPoP" in request.headers:
        raise InvalidRequestError("DPoP requests cannot be proxied")


class Proxy:
    """Forwards calls of the PDS's accounts to other services."""

    def __init__(
        self,
        ctx: PdsContext,
        services: ProxyServices | None = None,
        limits: ProxyLimits | None = None,
    ) -> None:
        self.ctx = ctx
        self.services = services or ProxyServices.from_config(ctx.config)
        self.limits = limits or ProxyLimits()
        self._auth = ctx.auth.access()

    @property
    def _timeout(self) -> aiohttp.ClientTimeout:
        limits = self.limits
        return aiohttp.ClientTimeout(
            total=None, sock_connect=limits.connect_timeout, sock_read=limits.read_timeout
        )

    async def handle_unrouted(self, request: web.Request, nsid: str) -> web.StreamResponse:
        """The router fallback: authenticate, pick the target and forward the call."""
        if request.method not in _METHODS:
            raise InvalidRequestError("XRPC requests only supports GET and POST")
        if is_protected_method(nsid):
            raise InvalidRequestError("Bad token method", "InvalidToken")
        _refuse_dpop(request)
        call: HandlerContext[AccessCredentials] = HandlerContext(nsid, request)
        credentials = await self._auth(call)
        if credentials.scope not in ACCESS_PRIVILEGED and is_privileged_method(nsid):
            raise InvalidRequestError("Bad token method", "InvalidToken")
        target = await self.target(request, nsid)
        body = None
        if request.method == "POST":
            body = await RawBody(request, self.limits.max_request_bytes).read_all()
        return await self.forward(
            request, target, iss=credentials.did, lxm=nsid, body=body, headers=call.response_headers
        )

    async def target(self, request: web.Request, nsid: str) -> ProxyTarget:
        """Where ``request`` goes: its ``atproto-proxy`` header or the default for ``nsid``."""
        header = request.headers.get(PROXY_HEADER)
        return await resolve_proxy_target(header, nsid, self.services, self.ctx.did_resolver)

    async def service_token(self, iss: str, aud: str, lxm: str) -> str:
        """A service JWT from the account ``iss`` for ``aud`` and method ``lxm``."""
        key = await self.ctx.accounts.signing_key(iss)
        return create_service_jwt(key, iss, aud, lxm)

    async def pipethrough(self, request: web.Request, nsid: str) -> web.StreamResponse:
        """Pass a query a local handler cannot answer (``repo.getRecord`` of a repo hosted
        elsewhere) on to its ``atproto-proxy`` target or default service, without service auth,
        and answer what that service answers (the reference's ``pipethrough``)."""
        target = await self.target(request, nsid)
        return await self.forward(request, target, iss=None, lxm=nsid, body=None)

    async def forward(
        self,
        request: web.Request,
        target: ProxyTarget,
        *,
        iss: str | None,
        lxm: str,
        body: bytes | None,
        headers: CIMultiDict[str] | None = None,
    ) -> web.StreamResponse:
        """Send ``request`` (method, path and query, ``body``) to ``target`` as ``iss`` (no
        service auth without one) and stream the answer back, with ``headers`` added to it."""
        outgoing = self._request_headers(request, body is not None)
        if iss is not None:
            token = await self.service_token(iss, target.did, lxm)
            outgoing["Authorization"] = f"Bearer {token}"
        url = URL(target.url).origin().join(request.rel_url)
        try:
            async with self.ctx.http.session().request(
                request.method,
                url,
                data=body,
                headers=outgoing,
                allow_redirects=False,
                timeout=self._timeout,
                auto_decompress=False,
            ) as upstream:
                if upstream.status >= 400:
                    raise await upstream_error(upstream)
                extra = headers if headers is not None else CIMultiDict()
                return await relay_response(
                    request, upstream, extra, self.limits.max_response_bytes
                )
        except TimeoutError:
            raise UpstreamTimeoutError("Upstream service timed out") from None
        except (aiohttp.ClientError, NetError):
            raise UpstreamFailureError("Upstream service unreachable") from None

    @staticmethod
    def _request_headers(request: web.Request, with_body: bool) -> dict[str, str]:
        names = (
            (*FORWARDED_REQUEST_HEADERS, *BODY_HEADERS) if with_body else FORWARDED_REQUEST_HEADERS
        )
        headers = {name: request.headers[name] for name in names if name in request.headers}
        headers["Accept-Encoding"] = request.headers.get("Accept-Encoding") or "identity"
        return headers


def get_proxy(ctx: PdsContext) -> Proxy:
    """The proxy of ``ctx`` (made on first use)."""
    proxy = ctx.services.get(SERVICE_KEY)
    if not isinstance(proxy, Proxy):
        proxy = ctx.services[SERVICE_KEY] = Proxy(ctx)
    return proxy


async def setup(ctx: PdsContext) -> None:
    """Create the proxy for ``ctx``."""
    get_proxy(ctx)


def register(router: XrpcRouter, ctx: PdsContext) -> None:
    """Send every call ``router`` has no handler for through the proxy."""
    router.fallback = get_proxy(ctx).handle_unrouted
