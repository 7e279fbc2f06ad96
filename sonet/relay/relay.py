"""The relay service: state, subscriptions, verification and the outgoing stream, assembled.

https://atproto.com/specs/sync#relay-behavior; behaviour follows the reference relay
(bluesky-social/indigo ``cmd/relay``). Upstream hosts (:mod:`sonet.relay.host_admin`) are
followed by the :class:`~sonet.relay.slurper.Slurper`, whose events the
:class:`~sonet.relay.ingest.Ingestor` checks (with a :class:`~sonet.relay.verify_pool.VerifyPool`)
and re-emits through the :class:`~sonet.relay.outbox.Outbox` into the event log
(:mod:`sonet.relay.checkpoint` keeps the database consistent with it) and to consumers
(:class:`~sonet.sync.broadcaster.Broadcaster`). Admins can also take accounts down (an
``#account`` event tells consumers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Final

import aiohttp

from sonet.identity.cache import MemoryCache
from sonet.identity.did_resolver import DidResolver
from sonet.net import HttpClient, HttpClientConfig, create_session
from sonet.relay.accounts import Account, AccountDirectory, AccountNotFoundError
from sonet.relay.checkpoint import Checkpointer
from sonet.relay.config import RelayConfig, RelayMode
from sonet.relay.errors import RelayError
from sonet.relay.event_log import EventLog, open_event_log
from sonet.relay.host_admin import HostAdmin, require_ingest
from sonet.relay.ingest import Ingestor
from sonet.relay.outbox import Outbox, Publisher
from sonet.relay.redis_fanout import RedisFeed
from sonet.relay.slurper import Slurper
from sonet.relay.stats import RelayStats
from sonet.relay.status import AccountStatus
from sonet.relay.verify_pool import VerifyPool
from sonet.storage.database import Database
from sonet.storage.migrations import Migration, migrate
from sonet.storage.relay_account_store import TABLES as ACCOUNT_TABLES
from sonet.storage.relay_account_store import RelayAccountStore
from sonet.storage.relay_host_store import TABLES as HOST_TABLES
from sonet.storage.relay_meta_store import TABLES as META_TABLES
from sonet.sync.broadcaster import Broadcaster
from sonet.sync.events import account_body
from sonet.sync.identities import IdentityDirectory
from sonet.syntax.datetime import format_datetime

__all__ = ["COMPONENT", "MIGRATIONS", "Relay"]

log = logging.getLogger(__name__)

COMPONENT: Final = "relay"
MIGRATIONS: Final = [
    Migration(1, "hosts, domain bans, accounts", tables=[*HOST_TABLES, *ACCOUNT_TABLES]),
    Migration(2, "event log checkpoint", tables=[*META_TABLES]),
]
TRIM_PERIOD: Final = 60.0


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
        self.checkpointer = Checkpointer(db, self.log, self.accounts, config.checkpoint_period)
        self.outbox = Outbox(
            self.checkpointer.commit,
            self.broadcaster,
            publishers=publishers or [],
            linger=config.outbox_linger,
        )
        self.ingestor = Ingestor(
            config, self.accounts, self.identities, self.pool, self.outbox, self.stats
        )

        def session_factory() -> aiohttp.ClientSession:
            return create_session(http_config)

        self.slurper = Slurper(
            config, session_factory, self.ingestor, self.stats, self._set_host_status
        )
        self.checkpointer.cursors = self.slurper
        self.hosts = HostAdmin(config, db, self.slurper, self.accounts, self._set_account_status)
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
        await self.checkpointer.recover()
        await self.pool.start()
        for host in await self.hosts.active():
            self.slurper.subscribe(host)
        self._tasks.append(asyncio.create_task(self._trim_loop()))
        self._tasks.append(asyncio.create_task(self.checkpointer.run()))

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

    async def checkpoint(self) -> None:
        """Save account heads and host cursors now (see :mod:`sonet.relay.checkpoint`)."""
        await self.checkpointer.checkpoint()

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

    async def _set_host_status(self, host_id: int, status: str) -> None:
        async with self.db.write() as conn:
            await self.hosts.hosts.set_status(conn, host_id, status)

    # -- accounts --------------------------------------------------------------------------------

    async def get_account(self, did: str) -> Account | None:
        """The account ``did`` as the relay knows it."""
        return await self.accounts.get(did)

    async def takedown(self, did: str, *, reverse: bool = False) -> Account:
        """Take an account down (or restore it); consumers get an ``#account`` event."""
        require_ingest(self.config)
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
