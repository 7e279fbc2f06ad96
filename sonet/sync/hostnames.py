"""Upstream host names: what ``requestCrawl`` accepts and how a host is addressed.

https://atproto.com/specs/sync#host-discovery: a host is named by its bare hostname (a public DNS
name, no IP address). As in the reference relay, ``localhost`` is accepted only with a port (for
development); any other name must not carry one. ``http``/``ws`` schemes mark a host reached
without TLS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from yarl import URL

from sonet.syntax.handle import is_valid_handle

__all__ = ["HostAddress", "HostnameError", "is_trusted_hostname", "parse_hostname"]

_TLS_SCHEMES: Final = frozenset({"https", "wss"})
_PLAIN_SCHEMES: Final = frozenset({"http", "ws"})
_LOCALHOST: Final = "localhost"


class HostnameError(ValueError):
    """Not an acceptable upstream host name."""


@dataclass(frozen=True, slots=True)
class HostAddress:
    """A normalised host: ``hostname`` (lowercase, ``localhost:<port>`` for development) and
    whether it is reached without TLS."""

    hostname: str
    no_ssl: bool = False

    @property
    def is_local(self) -> bool:
        """True for ``localhost:<port>``."""
        return self.hostname.startswith(_LOCALHOST + ":")

    @property
    def base_url(self) -> str:
        """``https://host`` (``http://`` without TLS)."""
        return f"{'http' if self.no_ssl else 'https'}://{self.hostname}"

    @property
    def subscribe_url(self) -> str:
        """The host's ``subscribeRepos`` URL, in its http(s) form (the WebSocket upgrade is
        requested on it; the SSRF guard only admits http and https)."""
        return f"{self.base_url}/xrpc/com.atproto.sync.subscribeRepos"


def parse_hostname(raw: str) -> HostAddress:
    """Normalise a bare hostname or an http(s)/ws(s) URL into a :class:`HostAddress`."""
    if not isinstance(raw, str) or not raw.strip():
        raise HostnameError("hostname is empty")
    text = raw.strip()
    if "://" not in text:
        text = ("http://" if text.lower().startswith(_LOCALHOST + ":") else "https://") + text
    try:
        url = URL(text)
    except ValueError as exc:
        raise HostnameError(f"not a valid host URL: {raw[:200]!r}") from exc
    scheme = url.scheme.lower()
    if scheme not in _TLS_SCHEMES and scheme not in _PLAIN_SCHEMES:
        raise HostnameError(f"unsupported URL scheme {scheme!r}")
    if url.raw_user is not None or url.raw_password is not None:
        raise HostnameError("host URL must not carry credentials")
    host = (url.raw_host or "").lower()
    explicit_port = url.explicit_port
    no_ssl = scheme in _PLAIN_SCHEMES
    if host == _LOCALHOST:
        if explicit_port is None:
            raise HostnameError("a port number is required for localhost")
        return HostAddress(f"{_LOCALHOST}:{explicit_port}", no_ssl)
    if explicit_port is not None:
        raise HostnameError("port numbers are only allowed for localhost")
    if not is_valid_handle(host):
        raise HostnameError(f"not a public hostname: {host[:253]!r}")
    return HostAddress(host, no_ssl)


def is_trusted_hostname(hostname: str, patterns: tuple[str, ...]) -> bool:
    """True if ``hostname`` equals a pattern or matches a ``*.suffix`` pattern."""
    for pattern in patterns:
        if hostname == pattern:
            return True
        if pattern.startswith("*") and hostname.endswith(pattern[1:]):
            return True
    return False
