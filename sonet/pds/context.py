"""Everything a PDS request handler can reach: config, database and the PDS services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sonet.identity.did_resolver import DidResolver
from sonet.identity.handle_resolver import HandleResolver
from sonet.lexicons import Lexicons
from sonet.net.http import HttpClient
from sonet.pds.accounts.directory import AccountDirectory
from sonet.pds.config import PdsConfig
from sonet.pds.repo_service import RepoService
from sonet.pds.sequencer import Sequencer
from sonet.storage.database import Database
from sonet.xrpc.auth import AuthVerifiers
from sonet.xrpc.tokens import SessionTokens

__all__ = ["PdsContext"]


@dataclass
class PdsContext:
    """The PDS's shared services, built once by :func:`sonet.pds.app.create_pds`.

    Areas (accounts, blobs, sync...) may keep their own service objects in ``services``
    under their module name, set up by their ``setup(ctx)`` function.
    """

    config: PdsConfig
    db: Database
    lexicons: Lexicons
    sequencer: Sequencer
    accounts: AccountDirectory
    repos: RepoService
    tokens: SessionTokens
    auth: AuthVerifiers
    http: HttpClient
    did_resolver: DidResolver
    handle_resolver: HandleResolver
    services: dict[str, Any] = field(default_factory=dict)
