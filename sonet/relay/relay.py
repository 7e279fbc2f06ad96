"""The relay service: state, subscriptions, verification and the outgoing stream, assembled.

https://atproto.com/specs/sync#relay-behavior; behaviour and admin operations follow the reference
relay (bluesky-social/indigo ``cmd/relay``): hosts are added by ``requestCrawl`` (validated,
checked to be a PDS, limited per day, refused when banned) or by an admin; admins can ban hosts
and domains, take accounts down (an ``#account`` event tells consumers) and change a host's
account limit (throttled accounts are released as room appears).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import aiohttp

from sonet.identity.cache import MemoryCache
from sonet.identity.did_resolver import DidResolver
from sonet.net import HttpClient, HttpClientConfig, NetError, create_session
from sonet.relay.accounts import Account, AccountDirectory, AccountNotFoundError, RepoHead
from sonet.relay.config import RelayConfig, RelayMode
from sonet.relay.event_log import EventLog, open_event_log
from sonet.relay.hostnames import HostAddress, HostnameError, is_trusted_hostname, parse_hostname
from sonet.relay.identities import IdentityDirectory
from sonet.relay.ingest import Ingestor
from sonet.relay.outbox import Outbox, Publisher
from sonet.relay.quotas import SlidingWindow
from sonet.relay.redis_fanout import RedisFeed
from sonet.relay.slurper import Slurper
from sonet.relay.stats import RelayStats
from sonet.relay.status import AccountStatus, HostStatus
from sonet.relay.verifier import repo_head_of
from sonet.relay.verify_pool import VerifyPool
from sonet.storage.database import Database
from sonet.storage.migrations import Migration, migrate
from sonet.storage.relay_account_store import TABLES as ACCOUNT_TABLES
from sonet.storage.relay_account_store import RelayAccountStore
from sonet.storage.relay_host_store import TABLES as HOST_TABLES
from sonet.storage.relay_host_store import HostRow, HostStore
from sonet.storage.relay_meta_store import TABLES as META_TABLES
from sonet.storage.relay_meta_store import RelayMetaStore
from sonet.storage.sequencer_store import SequencedEvent
from sonet.sync.broadcaster import Broadcaster
from sonet.sync.events import account_body
from sonet.syntax.datetime import format_datetime

__all__ = [
    "COMPONENT",
    "MIGRATIONS",
    "HostBannedError",
    "HostCheckError",
    "Relay",
    "RelayError",
]

log = logging.getLogger(__name__)

COMPONENT: Final = "relay"
MIGRATIONS: Final = [
    Migration(1, "hosts, domain bans, accounts", tables=[*HOST_TABLES, *ACCOUNT_TABLES]),
    Migration(2, "event log checkpoint", tables=[*META_TABLES]),
]
CHECKPOINT_KEY: Final = "checkpoint_seq"
RECOVERY_PAGE: Final = 500
TRIM_PERIOD: Final = 60.0
HOST_CHECK_BYTES: Final = 64 * 1024
RELAY_MARKER: Final = "atproto-relay"


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


class Relay:
    """A running relay (``full`` mode crawls and verifies; ``serve`` mode only streams)."""

    def __init__(
        self,
        config: RelayConfig,
        db: Database,
        *,
        resolver: DidResolver | None = None,
        publishers: list[Publisher] | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.stats = RelayStats()
        self.hosts = HostStore()
        self.account_store = RelayAccountStore()
        self.log: EventLog = open_event_log(config, db)
        self.broadcaster = Broadcaster(self.log, max_lag=config.consumer_max_lag)
        self.accounts = AccountDirectory(db)
        http_config = HttpClientConfig(
            allow_private=config.allow_private_hosts, user_agent=config.user_agent
        )
        self._http = HttpClient(http_config)
        self._owns_resolver = resolver is None
        self.resolver = resolver or DidResolver(
            self._http, plc_url=config.plc_url, cache=MemoryCache()
        )
        self.identities = IdentityDirectory(
            self.resolver, refresh_interval=config.identity_refresh_interval
        )
        self.pool = VerifyPool(config.verify_workers)
        self.meta = RelayMetaStore()
        self.outbox = Outbox(
            self._commit,
            self.broadcaster,
            publishers=publishers or [],
            linger=config.outbox_linger,
        )
        self._unsaved_cursors: dict[int, int] = {}
        self._unsaved_seq = 0
        self._saved_seq = 0
        self.ingestor = Ingestor(
            config, self.accounts, self.identities, self.pool, self.outbox, self.stats
        )
        self._session_factory: Callable[[], aiohttp.ClientSession] = lambda: create_session(
            http_config
        )
        self.slurper = Slurper(
            config, self._session_factory, self.ingestor, self.stats, self._set_host_status
        )
        self.new_hosts = SlidingWindow(86400.0, config.new_hosts_per_day)
        self.request_crawl_enabled = not config.disable_request_crawl
        self.feed: RedisFeed | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.started_at = time.time()

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Migrate, open the event log, start the workers and follow every active host."""
        await migrate(self.db, COMPONENT, MIGRATIONS)
        await self.log.open()
        self.outbox.start(self.log.latest_seq)
        if self.config.mode is RelayMode.SERVE:
            return
        await self._recover()
        await self.pool.start()
        async with self.db.read() as conn:
            active = await self.hosts.list_hosts(conn, limit=1_000_000, status=HostStatus.ACTIVE)
        for host in active:
            self.slurper.subscribe(host)
        self._tasks.append(asyncio.create_task(self._trim_loop()))
        self._tasks.append(asyncio.create_task(self._checkpoint_loop()))

    async def close(self) -> None:
        """Stop following hosts, commit what is pending and release everything."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.slurper.close()
        await self.outbox.close()
        if self.config.mode is RelayMode.FULL:
            try:
                await self.checkpoint()
            except Exception:
                log.exception("the final checkpoint failed")
        await self.pool.close()
        await self.log.close()
        if self._owns_resolver:
            await self.resolver.close()
        await self._http.close()

    async def _trim_loop(self) -> None:
        while True:
            try:
                cutoff = time.time_ns() // 1000 - int(self.config.replay_window * 1_000_000)
                dropped = await self.log.trim(cutoff)
                if dropped:
                    log.info("trimmed %d from the event log", dropped)
            except Exception:
                log.exception("trimming the event log failed")
            await asyncio.sleep(TRIM_PERIOD)

    # -- persistence -----------------------------------------------------------------------------

    async def _commit(self, batch: list[SequencedEvent]) -> None:
        """Append one outgoing batch to the log; the account and host state that goes with it
        (taken now, before any ``await``) waits for the next checkpoint."""
        repos = self.accounts.take_dirty()
        cursors = dict(self.slurper.cursors())
        try:
            await self.log.append(batch)
        except BaseException:
            self.accounts.restore_dirty(repos)
            self.slurper.restore_cursors(cursors)
            raise
        self.accounts.mark_logged(repos)
        self._unsaved_cursors.update(cursors)
        self._unsaved_seq = batch[-1].seq

    async def checkpoint(self) -> None:
        """Write the account heads and host cursors of every logged event, and the log position
        they reach (what :meth:`_recover` starts from after a crash)."""
        repos = self.accounts.take_logged()
        cursors, self._unsaved_cursors = self._unsaved_cursors, {}
        seq = self._unsaved_seq
        if not repos and not cursors and seq == self._saved_seq:
            self.accounts.saved(True)
            return
        try:
            async with self.db.write() as conn:
                await self.account_store.save_repos(
                    conn, [(uid, head.state()) for uid, head in repos.values()]
                )
                await self.hosts.save_cursors(conn, list(cursors.items()))
                await self.meta.put(conn, CHECKPOINT_KEY, seq)
        except BaseException:
            self.accounts.saved(False)
            self._unsaved_cursors = {**cursors, **self._unsaved_cursors}
            raise
        self.accounts.saved(True)
        self._saved_seq = seq

    async def _checkpoint_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.checkpoint_period)
            try:
                await self.checkpoint()
            except Exception:
                log.exception("checkpointing relay state failed")

    async def _recover(self) -> None:
        """Bring account heads up to date with events logged after the last checkpoint."""
        async with self.db.read() as conn:
            cursor = await self.meta.get(conn, CHECKPOINT_KEY) or 0
        self._saved_seq = cursor
        replayed = 0
        while True:
            page = await self.log.read_after(cursor, RECOVERY_PAGE)
            if not page:
                break
            for event in page:
                if event.kind in ("#commit", "#sync"):
                    replayed += await self._recover_head(event.frame)
            cursor = page[-1].seq
        self.accounts.mark_logged(self.accounts.take_dirty())
        self._unsaved_seq = self.log.latest_seq
        if replayed:
            log.info("recovered %d account heads from the event log", replayed)
        await self.checkpoint()

    async def _recover_head(self, frame: bytes) -> int:
        found = repo_head_of(frame)
        if found is None:
            return 0
        did, rev, commit, data = found
        account = await self.accounts.get(did)
        if account is None or (account.repo is not None and account.repo.rev >= rev):
            return 0
        self.accounts.record_repo(account, RepoHead(rev, commit, data))
        return 1

    async def _set_host_status(self, host_id: int, status: HostStatus) -> None:
        async with self.db.write() as conn:
            await self.hosts.set_status(conn, host_id, status)

    # -- hosts -----------------------------------------------------------------------------------

    async def get_host(self, hostname: str) -> HostRow | None:
        """The host named ``hostname`` (normalised first)."""
        try:
            name = parse_hostname(hostname).hostname
        except HostnameError:
            return None
        async with self.db.read() as conn:
            return await self.hosts.get(conn, name)

    async def list_hosts(
        self, after_id: int = 0, limit: int = 200, *, ever_active: bool = True
    ) -> list[HostRow]:
        """Hosts by id (by default only those that sent at least one event)."""
        async with self.db.read() as conn:
            return await self.hosts.list_hosts(
                conn, after_id=after_id, limit=limit, ever_active=ever_active
            )

    async def request_crawl(self, hostname: str, *, admin: bool = False) -> HostRow:
        """Subscribe to ``hostname`` (``com.atproto.sync.requestCrawl``; ``admin`` bypasses the
        public restrictions)."""
        self._require_ingest()
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
            await self.check_host(address)
        if existing is None:
            if not admin and not self.new_hosts.allow():
                raise RelayError(429, "RateLimitExceeded", "new host subscriptions are paused")
            existing = await self._add_host(address)
        elif existing.status != HostStatus.ACTIVE:
            await self._set_host_status(existing.id, HostStatus.ACTIVE)
            existing = await self._reload_host(existing.id)
        self.slurper.subscribe(existing)
        return existing

    def _require_ingest(self) -> None:
        if self.config.mode is RelayMode.SERVE:
            raise RelayError(
                501, "MethodNotImplemented", "this relay process only serves the firehose"
            )

    async def check_host(self, address: HostAddress) -> None:
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

    async def _add_host(self, address: HostAddress) -> HostRow:
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

    async def _reload_host(self, host_id: int) -> HostRow:
        async with self.db.read() as conn:
            host = await self.hosts.get_by_id(conn, host_id)
        assert host is not None
        return host

    async def _require_host(self, hostname: str) -> HostRow:
        host = await self.get_host(hostname)
        if host is None:
            raise RelayError(404, "HostNotFound", f"unknown host {hostname[:300]!r}")
        return host

    async def block_host(self, hostname: str) -> HostRow:
        """Ban a host and drop its connection."""
        host = await self._require_host(hostname)
        await self._set_host_status(host.id, HostStatus.BANNED)
        await self.slurper.unsubscribe(host.hostname)
        return await self._reload_host(host.id)

    async def unblock_host(self, hostname: str) -> HostRow:
        """Lift a host's ban (it is followed again after its next ``requestCrawl``)."""
        host = await self._require_host(hostname)
        await self._set_host_status(host.id, HostStatus.ACTIVE)
        return await self._reload_host(host.id)

    async def kill_connection(self, hostname: str, *, ban: bool = False) -> None:
        """Drop the connection to a followed host (and ban it)."""
        host = await self._require_host(hostname)
        if not await self.slurper.unsubscribe(host.hostname):
            raise RelayError(400, "InvalidRequest", "no active connection to that host")
        if ban:
            await self._set_host_status(host.id, HostStatus.BANNED)

    async def change_account_limit(self, hostname: str, limit: int) -> HostRow:
        """Set a host's account limit; throttled accounts are released while room remains."""
        self._require_ingest()
        if limit < 0:
            raise RelayError(400, "InvalidRequest", "the account limit must not be negative")
        host = await self._require_host(hostname)
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
                await self._set_account_status(account, AccountStatus.ACTIVE)
        updated = await self._reload_host(host.id)
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

    # -- accounts --------------------------------------------------------------------------------

    async def get_account(self, did: str) -> Account | None:
        """The account ``did`` as the relay knows it."""
        return await self.accounts.get(did)

    async def takedown(self, did: str, *, reverse: bool = False) -> Account:
        """Take an account down (or restore it); consumers get an ``#account`` event."""
        self._require_ingest()
        try:
            account = await self.accounts.require(did)
        except AccountNotFoundError:
            raise RelayError(404, "RepoNotFound", f"account not found: {did[:2048]}") from None
        status = AccountStatus.ACTIVE if reverse else AccountStatus.TAKENDOWN
        await self._set_account_status(account, status)
        return account

    async def _set_account_status(self, account: Account, status: str) -> None:
        await self.accounts.set_status(account, status)
        body = account_body(
            seq=0,
            did=account.did,
            time=format_datetime(datetime.now(UTC)),
            active=account.active,
            status=account.public_status,
        )
        self.outbox.emit(account.did, "#account", body)
        await self.outbox.drain()

    async def list_takedowns(self, after_uid: int = 0, limit: int = 500) -> list[str]:
        """DIDs of accounts taken down by an admin."""
        async with self.db.read() as conn:
            rows = await self.account_store.list_by_status(
                conn, AccountStatus.TAKENDOWN, after_uid=after_uid, limit=limit
            )
        return [row.did for row in rows]
