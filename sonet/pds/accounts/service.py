"""The accounts area's services, built once per PDS and kept in ``ctx.services``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from sonet.crypto import Keypair
from sonet.identity.plc_client import PlcClient
from sonet.pds.accounts.app_passwords import AppPasswords
from sonet.pds.accounts.email_tokens import EmailTokens
from sonet.pds.accounts.invites import Invites
from sonet.pds.accounts.rotation_key import load_rotation_key
from sonet.pds.accounts.sessions import Sessions
from sonet.pds.context import PdsContext
from sonet.pds.mailer import Mailer
from sonet.pds.sequencer import SequenceTransaction
from sonet.storage import pds_account_store
from sonet.storage.migrations import migrate

__all__ = [
    "DEFAULT_PLC_URL",
    "LOGIN_FLOOR_SECONDS",
    "SERVICE_KEY",
    "AccountService",
    "BlobCounter",
    "DeletionHook",
    "account_service",
    "setup_account_service",
]

SERVICE_KEY: Final = "accounts"
DEFAULT_PLC_URL: Final = "http://localhost:2582"
LOGIN_FLOOR_SECONDS: Final = 0.35
"""Every password check takes at least this long, so timing tells nothing (the reference's)."""

DeletionHook = Callable[[SequenceTransaction, str], Awaitable[None]]
"""Called inside the transaction deleting an account (other areas' cleanup, such as blobs)."""

BlobCounter = Callable[[str], Awaitable[tuple[int, int]]]
"""``did -> (expected blobs, imported blobs)``: the blobs records refer to, and those stored."""


@dataclass
class AccountService:
    """Sessions, app passwords, email codes, invites, mail and the PLC rotation key."""

    ctx: PdsContext
    sessions: Sessions
    app_passwords: AppPasswords
    email_tokens: EmailTokens
    invites: Invites
    mailer: Mailer
    rotation_key: Keypair
    login_floor: float = LOGIN_FLOOR_SECONDS
    deletion_hooks: list[DeletionHook] = field(default_factory=list)
    blob_counts: BlobCounter | None = None

    @property
    def plc_url(self) -> str:
        """The PLC directory the PDS registers DIDs with."""
        return self.ctx.config.plc_url or DEFAULT_PLC_URL

    def plc_client(self) -> PlcClient:
        """A client of the PLC directory over the PDS's outbound HTTP session."""
        return PlcClient(self.ctx.http.session(), self.plc_url)


async def setup_account_service(ctx: PdsContext) -> AccountService:
    """Migrate the accounts tables and build the service (once; later calls return it)."""
    existing = ctx.services.get(SERVICE_KEY)
    if isinstance(existing, AccountService):
        return existing
    config = ctx.config
    await migrate(ctx.db, "pds_account", pds_account_store.MIGRATIONS)
    service = AccountService(
        ctx=ctx,
        sessions=Sessions(ctx.db, ctx.tokens),
        app_passwords=AppPasswords(ctx.db),
        email_tokens=EmailTokens(ctx.db),
        invites=Invites(ctx.db, config.hostname),
        mailer=Mailer(
            config.smtp_url,
            config.email_from,
            service_name=config.hostname,
            dev_mode=config.dev_mode,
        ),
        rotation_key=await load_rotation_key(ctx.db),
    )
    ctx.services[SERVICE_KEY] = service
    return service


def account_service(ctx: PdsContext) -> AccountService:
    """The service built by :func:`setup_account_service`."""
    service = ctx.services.get(SERVICE_KEY)
    if not isinstance(service, AccountService):
        raise RuntimeError("the accounts area is not set up (setup_account_service)")
    return service
