"""The PLC directory HTTP server: resolve, audit, submit and export ``did:plc`` operations.

https://web.plc.directory/spec/v0.1/did-plc#did-resolution (routes, status codes and JSON
shapes follow the directory's OpenAPI description: ``{"message": ...}`` errors, 404 for an
unknown DID, 410 for a tombstoned one).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson
from aiohttp import web

from sonet import __version__
from sonet.identity.plc_document import format_did_doc
from sonet.identity.plc_errors import AppendConflictError, PlcError
from sonet.identity.plc_log import LogEntry, assure_valid_next_op, enforce_rate_limit
from sonet.identity.plc_ops import AnyOp, DocumentData, op_to_data
from sonet.identity.plc_validate import PlcLimits, assert_valid_incoming_op
from sonet.storage.database import Database, sqlite_url
from sonet.storage.plc_store import AppendCheck, PlcStore, SequencedEntry, migrate_plc
from sonet.syntax.datetime import format_datetime, parse_datetime
from sonet.syntax.errors import InvalidSyntaxError

__all__ = ["DEFAULT_PORT", "PLC_LIMITS", "PLC_STORE", "create_app", "run_from_env"]

log = logging.getLogger(__name__)

DEFAULT_PORT: Final = 2582
MAX_EXPORT_COUNT: Final = 1000
MAX_BODY_BYTES: Final = 64 * 1024
DID_DOC_TYPE: Final = "application/did+ld+json"
JSONLINES_TYPE: Final = "application/jsonlines"
_DIGITS: Final = re.compile(r"[0-9]+")

PLC_STORE: Final = web.AppKey("plc_store", PlcStore)
PLC_LIMITS: Final = web.AppKey("plc_limits", PlcLimits)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _json(value: Any, status: int = 200, content_type: str = "application/json") -> web.Response:
    return web.Response(body=orjson.dumps(value), status=status, content_type=content_type)


def _error(status: int, message: str) -> web.Response:
    return _json({"message": message}, status=status)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure as ``{"message": ...}``: 400 for a rejected op, 409 for a lost race."""
    try:
        return await handler(request)
    except AppendConflictError as exc:
        return _error(409, str(exc))
    except PlcError as exc:
        return _error(400, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason)
    except Exception:
        log.exception("PLC request failed: %s %s", request.method, request.path)
        return _error(500, "Internal Server Error")


def _store(request: web.Request) -> PlcStore:
    return request.app[PLC_STORE]


def _not_registered(did: str) -> web.Response:
    return _error(404, f"DID not registered: {did}")


async def _current(request: web.Request) -> tuple[str, LogEntry | None]:
    did = request.match_info["did"]
    return did, await _store(request).last_entry(did)


async def health(request: web.Request) -> web.Response:
    """``GET /_health``: the version, or 503 when the database does not answer."""
    try:
        await _store(request).health()
    except Exception:
        log.exception("PLC health check failed")
        return _json({"version": __version__, "error": "Service Unavailable"}, status=503)
    return _json({"version": __version__})


async def _current_data(request: web.Request) -> DocumentData:
    """The PLC state of the request's DID; 404 if it is not registered, 410 if tombstoned."""
    did, last = await _current(request)
    if last is None:
        raise web.HTTPNotFound(reason=f"DID not registered: {did}")
    data = op_to_data(did, last.operation)
    if data is None:
        raise web.HTTPGone(reason=f"DID not available: {did}")
    return data


async def resolve_did(request: web.Request) -> web.Response:
    """``GET /:did``: the DID document of the latest valid operation."""
    return _json(format_did_doc(await _current_data(request)), content_type=DID_DOC_TYPE)


async def did_data(request: web.Request) -> web.Response:
    """``GET /:did/data``: the PLC state (keys, aliases, services) of the DID."""
    return _json(await _current_data(request))


async def operation_log(request: web.Request) -> web.Response:
    """``GET /:did/log``: the chain of valid operations, genesis first."""
    did = request.match_info["did"]
    entries = await _store(request).active_entries(did)
    if not entries:
        return _not_registered(did)
    return _json([entry.operation for entry in entries])


async def audit_log(request: web.Request) -> web.Response:
    """``GET /:did/log/audit``: every operation with its CID, ``nullified`` and ``createdAt``."""
    did = request.match_info["did"]
    entries = await _store(request).audit_log(did)
    if not entries:
        return _not_registered(did)
    return _json([entry.to_json() for entry in entries])


async def last_operation(request: web.Request) -> web.Response:
    """``GET /:did/log/last``: the latest valid operation (a tombstone included)."""
    did, last = await _current(request)
    if last is None:
        return _not_registered(did)
    return _json(last.operation)


def _append_check(did: str, op: AnyOp, limits: PlcLimits) -> AppendCheck:
    def check(active: list[LogEntry], at: datetime) -> Sequence[str]:
        result = assure_valid_next_op(did, active, op, at)
        if not result.nullified:  # recovery is never rate limited, as in the reference
            enforce_rate_limit(active, at, limits)
        return result.nullified

    return check


async def submit_operation(request: web.Request) -> web.Response:
    """``POST /:did``: validate a signed operation against the DID's log and store it."""
    did = request.match_info["did"]
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return _error(400, "Request body is not valid JSON")
    limits = request.app[PLC_LIMITS]
    op = assert_valid_incoming_op(body, limits)
    await _store(request).append(did, op, _append_check(did, op, limits))
    return web.Response(text="OK")


def _export_count(request: web.Request) -> int:
    raw = request.query.get("count")
    if raw is None:
        return MAX_EXPORT_COUNT
    if not _DIGITS.fullmatch(raw) or int(raw) < 1:
        raise PlcError("Invalid count parameter")
    return min(int(raw), MAX_EXPORT_COUNT)


def _export_time(raw: str) -> datetime:
    try:
        return parse_datetime(raw)
    except InvalidSyntaxError:
        pass
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise PlcError("Invalid after parameter") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sequenced_line(item: SequencedEntry) -> dict[str, Any]:
    entry = item.entry
    return {
        "type": "sequenced_op",
        "seq": item.seq,
        "did": entry.did,
        "operation": entry.operation,
        "cid": entry.cid,
        "createdAt": format_datetime(entry.created_at),
    }


async def export(request: web.Request) -> web.Response:
    """``GET /export``: JSON lines of every DID's operations.

    ``after=<integer>`` pages by ``seq`` (``sequenced_op`` lines); a timestamp or no ``after``
    gives the legacy lines paged by ``createdAt``.
    https://web.plc.directory/spec/v0.1/did-plc#bulk-export
    """
    count = _export_count(request)
    after = request.query.get("after")
    store = _store(request)
    lines: list[dict[str, Any]]
    if after is not None and _DIGITS.fullmatch(after):
        lines = [_sequenced_line(i) for i in await store.export_after_seq(int(after), count)]
    else:
        since = None if after is None else _export_time(after)
        lines = [e.to_json() for e in await store.export_after_time(since, count)]
    body = "\n".join(_dumps(line) for line in lines)
    return web.Response(text=body, content_type=JSONLINES_TYPE)


async def home(_request: web.Request) -> web.Response:
    """``GET /``: what this server is."""
    return web.Response(text=f"Sonet PLC directory {__version__}\n")


def create_app(store: PlcStore, *, limits: PlcLimits | None = None) -> web.Application:
    """The directory's routes over ``store`` (already migrated)."""
    app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY_BYTES)
    app[PLC_STORE] = store
    app[PLC_LIMITS] = limits or PlcLimits()
    app.router.add_get("/", home)
    app.router.add_get("/_health", health)
    app.router.add_get("/export", export)
    app.router.add_get("/{did}", resolve_did)
    app.router.add_post("/{did}", submit_operation)
    app.router.add_get("/{did}/data", did_data)
    app.router.add_get("/{did}/log", operation_log)
    app.router.add_get("/{did}/log/audit", audit_log)
    app.router.add_get("/{did}/log/last", last_operation)
    return app


def database_url_from_env(env: Mapping[str, str]) -> str:
    """``SONET_DATABASE_URL``, else ``plc.sqlite`` in ``SONET_DATA_DIR`` (default sonet-data)."""
    url = env.get("SONET_DATABASE_URL")
    if url:
        return url
    return sqlite_url(Path(env.get("SONET_DATA_DIR", "sonet-data")) / "plc.sqlite")


async def _app_from_env() -> web.Application:
    db = Database.open(database_url_from_env(os.environ))
    await migrate_plc(db)
    app = create_app(PlcStore(db))

    async def close(_app: web.Application) -> None:
        await db.close()

    app.on_cleanup.append(close)
    return app


def run_from_env() -> None:
    """Serve the directory on ``SONET_PLC_PORT`` (default 2582) until interrupted."""
    hostname = os.environ.get("SONET_HOSTNAME", "localhost")
    web.run_app(
        _app_from_env(),
        host="127.0.0.1" if hostname == "localhost" else "0.0.0.0",
        port=int(os.environ.get("SONET_PLC_PORT", str(DEFAULT_PORT))),
    )
