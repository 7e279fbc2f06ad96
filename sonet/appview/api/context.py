"""Everything an AppView request handler can reach, built once by
:func:`sonet.appview.app.create_appview`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sonet.appview.api.auth import ViewerAuth
from sonet.appview.config import AppviewConfig
from sonet.appview.images import ImageService, ImageUrls
from sonet.appview.search.index import SearchIndex
from sonet.appview.timeline import TimelineReader
from sonet.identity.did_resolver import DidResolver
from sonet.lexicons import Lexicons
from sonet.net import HttpClient
from sonet.storage.appview_read_sql import Reader
from sonet.storage.database import Database
from sonet.xrpc.auth import AuthVerifiers

__all__ = ["AppviewContext"]


@dataclass
class AppviewContext:
    """The AppView's shared services. ``viewer_auth`` builds the routes' verifiers (sharing one
    cache of verified service JWTs). ``search`` is None when no search index is open (actor
    search then matches handle and name prefixes in the database; post search is refused).
    ``services`` holds background parts (the ingest pipeline) under their names."""

    config: AppviewConfig
    db: Database
    reader: Reader
    lexicons: Lexicons
    auth: AuthVerifiers
    http: HttpClient
    did_resolver: DidResolver
    image_urls: ImageUrls
    images: ImageService
    timeline: TimelineReader
    viewer_auth: ViewerAuth
    search: SearchIndex | None = None
    services: dict[str, Any] = field(default_factory=dict)
