"""The SSRF-safe aiohttp session factory and a small GET client on top of it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Self

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver
from yarl import URL

from sonet.net.dns import DEFAULT_DNS_PORT, DnspythonResolver, create_dns_resolver
from sonet.net.errors import FetchError, SsrfError
from sonet.net.limits import read_limited
from sonet.net.ssrf import AddressPolicy, SsrfSafeResolver, ssrf_middleware

SessionFactory = Callable[[], aiohttp.ClientSession]
DEFAULT_USER_AGENT: Final = "sonet (+https://atproto.com)"


@dataclass(frozen=True, slots=True)
class HttpClientConfig:
    """Outbound HTTP settings.

    ``allow_private`` lifts the address policy (tests, private networks);
    ``trusted_networks`` (CIDR strings) exempts only those networks. With
    ``nameservers`` (IP addresses, at ``dns_port``) hostnames resolve through
    them instead of the system resolver.
    """

    allow_private: bool = False
    trusted_networks: tuple[str, ...] = ()
    connect_timeout: float = 5.0
    total_timeout: float = 15.0
    max_redirects: int = 5
    max_connections: int = 100
    user_agent: str = DEFAULT_USER_AGENT
    nameservers: tuple[str, ...] = ()
    dns_port: int = DEFAULT_DNS_PORT

    def policy(self) -> AddressPolicy:
        """The address policy these settings describe."""
        return AddressPolicy.build(self.allow_private, self.trusted_networks)

    def inner_resolver(self) -> AbstractResolver:
        """The resolver whose answers the address policy filters."""
        if self.nameservers:
            dns = create_dns_resolver(self.nameservers, self.dns_port, self.connect_timeout)
            return DnspythonResolver(dns)
        return DefaultResolver()


def create_session(config: HttpClientConfig | None = None) -> aiohttp.ClientSession:
    """An aiohttp session that only reaches permitted addresses over http(s).

    Resolved addresses are filtered at connect time, IP literals and schemes are
    checked on every redirect hop, proxies from the environment and cookies are
    ignored. Call inside a running event loop.
    """
    cfg = config or HttpClientConfig()
    policy = cfg.policy()
    connector = aiohttp.TCPConnector(
        resolver=SsrfSafeResolver(cfg.inner_resolver(), policy), limit=cfg.max_connections
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=cfg.total_timeout, sock_connect=cfg.connect_timeout),
        middlewares=(ssrf_middleware(policy),),
        headers={"User-Agent": cfg.user_agent},
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )


@dataclass(frozen=True, slots=True)
class FetchedResponse:
    """A fully read response: final URL, status, media type and body."""

    url: str
    status: int
    content_type: str
    body: bytes = field(repr=False)

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300


class HttpClient:
    """A lazily created SSRF-safe session, shared by the resolvers, and a bounded GET.

    Owns the session it creates: close it with :meth:`close` (or ``async with``).
    """

    def __init__(
        self, config: HttpClientConfig | None = None, session_factory: SessionFactory | None = None
    ) -> None:
        self.config = config or HttpClientConfig()
        self._policy = self.config.policy()
        self._factory = session_factory or (lambda: create_session(self.config))
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The session, created on first use (inside the running loop)."""
        if self._session is None or self._session.closed:
            self._session = self._factory()
        return self._session

    async def get(
        self,
        url: str | URL,
        *,
        max_bytes: int,
        accept: str | None = None,
        follow_redirects: bool = True,
        timeout: float | None = None,
    ) -> FetchedResponse:
        """GET ``url`` and read at most ``max_bytes`` of body, whatever the status.

        Raises :class:`SsrfError` for a refused destination (also after a redirect),
        :class:`ResponseTooLargeError`, and :class:`FetchError` for anything else
        that went wrong (DNS, connection, timeout, too many redirects).
        """
        try:
            target = URL(url) if isinstance(url, str) else url
        except ValueError as exc:
            raise SsrfError(f"malformed URL {str(url)[:200]!r}: {exc}") from None
        self._policy.check_url(target)
        headers = {"Accept": accept} if accept else None
        try:
            async with (
                asyncio.timeout(timeout),
                self.session().get(
                    target,
                    headers=headers,
                    allow_redirects=follow_redirects,
                    max_redirects=self.config.max_redirects,
                ) as resp,
            ):
                body = await read_limited(resp, max_bytes)
                return FetchedResponse(str(resp.url), resp.status, resp.content_type, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise FetchError(f"GET {str(target)[:200]} failed: {exc!r}") from exc

    async def close(self) -> None:
        """Close the session, if one was created."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
