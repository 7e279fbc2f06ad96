"""Which hosts the relay follows: ``requestCrawl`` and the admin's host and domain controls.

https://atproto.com/specs/sync#host-discovery and the reference relay's rules: a crawl request
names a valid public hostname (``localhost:<port>`` and plain-HTTP hosts only for an admin or a
relay configured for private networks), not banned (the host or one of its parent domains), that
answers ``describeServer`` like a PDS and not like a relay; new hosts are limited per day (not for
an admin) and get the default account limit (trusted domains a larger one). Admins can ban and
unban hosts and domains, drop a connection, and change a host's account limit, which releases
accounts throttled by the old one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

import aiohttp

from sonet.net import NetError
from sonet.relay.accounts import Account, AccountDirectory
from sonet.relay.config import RelayConfig, RelayMode
from sonet.relay.errors import HostBannedError, HostCheckError, RelayError
from sonet.relay.quotas import SlidingWindow
from sonet.relay.slurper import Slurper
from sonet.relay.status import AccountStatus, HostStatus
from sonet.storage.database import Database
from sonet.storage.relay_account_store import RelayAccountStore
from sonet.storage.relay_host_store import HostRow, HostStore
from sonet.sync.hostnames import HostAddress, HostnameError, is_trusted_hostname, parse_hostname

__all__ = ["HostAdmin", "require_ingest"]

log = logging.getLogger(__name__)

HOST_CHECK_BYTES: Final = 64 * 1024
RELAY_MARKER: Final = "atproto-relay"
DAY: Final = 86400.0

SetAccountStatus = Callable[[Account, str], Awaitable[None]]


def require_ingest(config: RelayConfig) -> None:
    """Refuse an operation a serving-only relay process cannot carry out."""
    if config.mode is RelayMode.SERVE:
        raise RelayError(501, "MethodNotImplemented", "this relay process only serves the firehose")


class HostAdmin:
    """Host and domain operations over the database and the slurper."""

    def __init__(
        self,
        config: RelayConfig,
        db: Database,
        slurper: Slurper,
        accounts: AccountDirectory,
        set_account_status: SetAccountStatus,
    ) -> None:
        self.config = config
        self.db = db
        self.slurper = slurper
        self.accounts = accounts
        self.set_account_status = set_account_status
        self.hosts = HostStore()
        self.account_store = RelayAccountStore()
        self.new_hosts = SlidingWindow(DAY, config.new_hosts_per_day)
        self.request_crawl_enabled = not config.disable_request_crawl

    # -- reading ---------------------------------------------------------------------------------

    async def get(self, hostname: str) -> HostRow | None:
        """The host named ``hostname`` (normalised first)."""
        try:
            name = parse_hostname(hostname).hostname
        except HostnameError:
            return None
        async with self.db.read() as conn:
            return await self.hosts.get(conn, name)

    async def page(
        self, after_id: int = 0, limit: int = 200, *, ever_active: bool = True
    ) -> list[HostRow]:
        """Hosts by id (by default only those that sent at least one event)."""
        async with self.db.read() as conn:
            return await self.hosts.list_hosts(
                conn, after_id=after_id, limit=limit, ever_active=ever_active
            )

    async def active(self) -> list[HostRow]:
        """Every host to follow."""
        async with self.db.read() as conn:
            return await self.hosts.list_hosts(conn, limit=1_000_000, status=HostStatus.ACTIVE)

    async def _reload(self, host_id: int) -> HostRow:
        async with self.db.read() as conn:
            host = await self.hosts.get_by_id(conn, host_id)
        assert host is not None
        return host

    async def _require(self, hostname: str) -> HostRow:
        host = await self.get(hostname)
        if host is None:
            raise RelayError(404, "HostNotFound", f"unknown host {hostname[:300]!r}")
        return host

    # -- crawling --------------------------------------------------------------------------------

    async def request_crawl(self, hostname: str, *, admin: bool = False) -> HostRow:
        """Subscribe to ``hostname`` (``admin`` bypasses the public restrictions)."""
        require_ingest(self.config)
        if not self.request_crawl_enabled and not admin:
            raise RelayError(403, "Forbidden", "public requestCrawl is disabled on this relay")
        try:
            address = parse_hostname(hostname)
        except HostnameError as exc:
            raise RelayError(400, "InvalidRequest", f"hostname invalid: {exc}") from None
        if address.no_ssl and not (admin or self.config.allow_insecure_hosts):
            raise RelayError(400, "InvalidRequest", "this relay requires hosts to use TLS")
        if address.is_local and not (admin or self.config.allow_private_hosts):
            raise RelayError(400, "InvalidRequest", "localhost can only be added by an admin")
        async with self.db.read() as conn:
            if not address.is_local and await self.hosts.is_domain_banned(conn, address.hostname):
                raise HostBannedError("host domain is banned")
            existing = await self.hosts.get(conn, address.hostname)
        if existing is not None and existing.status == HostStatus.BANNED:
            raise HostBannedError("host is banned")
        if self.slurper.is_subscribed(address.hostname) and existing is not None:
            return existing
        if self.config.check_new_hosts:
            await self.check(address)
        if existing is None:
            if not admin and not self.new_hosts.allow():
                raise RelayError(429, "RateLimitExceeded", "new host subscriptions are paused")
            existing = await self._add(address)
        elif existing.status != HostStatus.ACTIVE:
            await self.set_status(existing.id, HostStatus.ACTIVE)
            existing = await self._reload(existing.id)
        self.slurper.subscribe(existing)
        return existing

    async def check(self, address: HostAddress) -> None:
        """Make sure ``address`` answers ``describeServer`` like a PDS and is not a relay."""
        url = f"{address.base_url}/xrpc/com.atproto.server.describeServer"
        try:
            async with self.slurper.session().get(url, allow_redirects=False) as resp:
                server = resp.headers.get("Server", "")
                body = await resp.content.read(HOST_CHECK_BYTES)
        except (aiohttp.ClientError, OSError, TimeoutError, NetError) as exc:
            raise HostCheckError(f"host server unreachable: {exc}") from None
        if RELAY_MARKER in server:
            raise HostCheckError("host is a relay, not a PDS")
        if resp.status != 200 or not body.lstrip().startswith(b"{"):
            raise HostCheckError(f"host is not a PDS (describeServer: HTTP {resp.status})")

    async def _add(self, address: HostAddress) -> HostRow:
        trusted = is_trusted_hostname(address.hostname, self.config.trusted_domains)
        limit = self.config.trusted_account_limit if trusted else self.config.default_account_limit
        async with self.db.write() as conn:
            host = await self.hosts.insert(
                conn,
                hostname=address.hostname,
                no_ssl=address.no_ssl,
                account_limit=limit,
                trusted=trusted,
                status=HostStatus.ACTIVE,
            )
        log.info("added host %s (trusted=%s, account limit %d)", host.hostname, trusted, limit)
        return host

    # -- admin -----------------------------------------------------------------------------------

    async def set_status(self, host_id: int, status: HostStatus) -> None:
        """Record a host's status."""
        async with self.db.write() as conn:
            await self.hosts.set_status(conn, host_id, status)

    async def block(self, hostname: str) -> HostRow:
        """Ban a host and drop its connection."""
        host = await self._require(hostname)
        await self.set_status(host.id, HostStatus.BANNED)
        await self.slurper.unsubscribe(host.hostname)
        return await self._reload(host.id)

    async def unblock(self, hostname: str) -> HostRow:
        """Lift a host's ban (it is followed again after its next ``requestCrawl``)."""
        host = await self._require(hostname)
        await self.set_status(host.id, HostStatus.ACTIVE)
        return await self._reload(host.id)

    async def kill_connection(self, hostname: str, *, ban: bool = False) -> None:
        """Drop the connection to a followed host (and ban it)."""
        host = await self._require(hostname)
        if not await self.slurper.unsubscribe(host.hostname):
            raise RelayError(400, "InvalidRequest", "no active connection to that host")
        if ban:
            await self.set_status(host.id, HostStatus.BANNED)

    async def change_account_limit(self, hostname: str, limit: int) -> HostRow:
        """Set a host's account limit; throttled accounts are released while room remains."""
        require_ingest(self.config)
        if limit < 0:
            raise RelayError(400, "InvalidRequest", "the account limit must not be negative")
        host = await self._require(hostname)
        async with self.db.write() as conn:
            await self.hosts.set_account_limit(conn, host.id, limit)
        room = limit - host.account_limit
        if room > 0:
            async with self.db.read() as conn:
                throttled = await self.account_store.list_by_status(
                    conn, AccountStatus.HOST_THROTTLED, host_id=host.id, limit=room
                )
            for row in throttled:
                account = await self.accounts.require(row.did)
                await self.set_account_status(account, AccountStatus.ACTIVE)
        updated = await self._reload(host.id)
        self.slurper.set_quotas(updated.hostname, self.config.quotas(limit, updated.trusted))
        return updated

    async def ban_domain(self, domain: str) -> None:
        """Ban a domain (and its subdomains) from ``requestCrawl``."""
        async with self.db.write() as conn:
            await self.hosts.ban_domain(conn, domain.strip().lower())

    async def unban_domain(self, domain: str) -> None:
        """Lift a domain ban."""
        async with self.db.write() as conn:
            await self.hosts.unban_domain(conn, domain.strip().lower())

    async def banned_domains(self) -> list[str]:
        """Every banned domain."""
        async with self.db.read() as conn:
            return await self.hosts.banned_domains(conn)
