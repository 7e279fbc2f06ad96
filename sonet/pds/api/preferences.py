"""``app.bsky.actor.getPreferences`` / ``putPreferences``: private preferences kept on the PDS.

https://docs.bsky.app/docs/api/app-bsky-actor-put-preferences. As the reference PDS: only
``app.bsky`` preference types are accepted and a put replaces them all; ``personalDetailsPref``
(the birth date) is read and written only by full-password sessions, app-password sessions keep
what is stored; ``declaredAgePref`` is derived from the birth date on read and never stored.
A call with an ``atproto-proxy`` header naming another AppView is forwarded there instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Final

import orjson

from sonet.pds.accounts.auth import AccountAuth
from sonet.pds.context import PdsContext
from sonet.pds.proxy import get_proxy
from sonet.pds.proxy_target import PROXY_HEADER
from sonet.repo.atjson import data_to_json, json_to_data
from sonet.storage.migrations import migrate
from sonet.storage.pds_preference_store import MIGRATIONS, PreferenceRow, PreferenceStore
from sonet.xrpc.auth import AccessCredentials
from sonet.xrpc.context import HandlerContext, HandlerOutput
from sonet.xrpc.errors import InvalidRequestError
from sonet.xrpc.router import XrpcRouter
from sonet.xrpc.tokens import ACCESS_FULL, ACCESS_STANDARD, AuthScope

__all__ = [
    "MIGRATION_COMPONENT",
    "NAMESPACE",
    "declared_age",
    "pref_allowed",
    "register",
    "setup",
]

MIGRATION_COMPONENT: Final = "pds_preference"
NAMESPACE: Final = "app.bsky"
PERSONAL_DETAILS: Final = "app.bsky.actor.defs#personalDetailsPref"
DECLARED_AGE: Final = "app.bsky.actor.defs#declaredAgePref"
_STORE = PreferenceStore()


def in_namespace(pref_type: str, namespace: str = NAMESPACE) -> bool:
    """True if a preference ``$type`` belongs to ``namespace``."""
    return pref_type == namespace or pref_type.startswith(namespace + ".")


def pref_allowed(pref_type: str, full_access: bool) -> bool:
    """Whether a session may see or set a preference type (the birth date: full access only)."""
    return full_access or pref_type != PERSONAL_DETAILS


def _age(birth: date, today: date) -> int:
    before_birthday = (today.month, today.day) < (birth.month, birth.day)
    return today.year - birth.year - (1 if before_birthday else 0)


def declared_age(birth_date: object, today: date | None = None) -> dict[str, Any] | None:
    """The ``declaredAgePref`` derived from a ``personalDetailsPref.birthDate``, if it parses."""
    if not isinstance(birth_date, str):
        return None
    try:
        birth = datetime.fromisoformat(birth_date).date()
    except ValueError:
        return None
    age = _age(birth, today or datetime.now(UTC).date())
    return {
        "$type": DECLARED_AGE,
        "isOverAge13": age >= 13,
        "isOverAge16": age >= 16,
        "isOverAge18": age >= 18,
    }


def _pref_type(value: dict[str, Any]) -> str:
    pref_type = value.get("$type")
    if not isinstance(pref_type, str):
        raise InvalidRequestError("Preference is missing a $type")
    return pref_type


def _is_full(auth: AccessCredentials) -> bool:
    return auth.scope in ACCESS_FULL


def _visible(rows: list[PreferenceRow], full_access: bool) -> list[dict[str, Any]]:
    prefs = [orjson.loads(row.value_json) for row in rows if in_namespace(row.name)]
    details = next((p for p in prefs if p.get("$type") == PERSONAL_DETAILS), None)
    if details is not None:
        age = declared_age(details.get("birthDate"))
        if age is not None:
            prefs.append(age)
    return [json_to_data(p) for p in prefs if pref_allowed(p.get("$type", ""), full_access)]


def _other_appview(ctx: PdsContext, call: HandlerContext[Any]) -> bool:
    """True if the call names, in ``atproto-proxy``, a service other than the default AppView."""
    header = call.request.headers.get(PROXY_HEADER)
    if header is None:
        return False
    appview = get_proxy(ctx).services.appview
    return appview is None or header != f"{appview.did}#bsky_appview"


async def _proxied(ctx: PdsContext, call: HandlerContext[AccessCredentials]) -> HandlerOutput:
    proxy = get_proxy(ctx)
    target = await proxy.target(call.request, call.nsid)
    body = None
    if call.input is not None:
        body = orjson.dumps(data_to_json(call.input.body))
    return await proxy.forward(
        call.request,
        target,
        iss=call.auth.did,
        lxm=call.nsid,
        body=body,
        headers=call.response_headers,
    )


def register(router: XrpcRouter, ctx: PdsContext) -> None:
    """Serve getPreferences and putPreferences."""

    async def get_preferences(call: HandlerContext[AccessCredentials]) -> HandlerOutput:
        if _other_appview(ctx, call):
            return await _proxied(ctx, call)
        async with ctx.db.read() as conn:
            rows = await _STORE.list(conn, call.auth.did)
        return {"preferences": _visible(rows, _is_full(call.auth))}

    async def put_preferences(call: HandlerContext[AccessCredentials]) -> HandlerOutput:
        if _other_appview(ctx, call):
            return await _proxied(ctx, call)
        did, full_access = call.auth.did, _is_full(call.auth)
        assert call.input is not None
        values: list[dict[str, Any]] = call.input.body["preferences"]
        types = [_pref_type(value) for value in values]
        if not all(in_namespace(t) for t in types):
            raise InvalidRequestError(f"Some preferences are not in the {NAMESPACE} namespace")
        forbidden = [t for t in types if not pref_allowed(t, full_access)]
        if forbidden:
            raise InvalidRequestError(
                f"Do not have authorization to set preferences: {', '.join(forbidden)}"
            )
        new_rows = [
            (value["$type"], orjson.dumps(data_to_json(value)).decode())
            for value in values
            if value["$type"] != DECLARED_AGE
        ]
        async with ctx.db.write() as conn:
            stored = await _STORE.list(conn, did)
            replaced = [
                row.id
                for row in stored
                if in_namespace(row.name) and pref_allowed(row.name, full_access)
            ]
            await _STORE.replace(conn, did, replaced, new_rows)
        return None

    read_scopes = (*ACCESS_STANDARD, AuthScope.TAKENDOWN)
    router.query(
        "app.bsky.actor.getPreferences", get_preferences, auth=ctx.auth.access(read_scopes)
    )
    write_auth = AccountAuth(ctx.auth, ctx.accounts).access(check_takedown=True)
    router.procedure("app.bsky.actor.putPreferences", put_preferences, auth=write_auth)


async def setup(ctx: PdsContext) -> None:
    """Create the preference table (until the lead adds it to the PDS schema)."""
    await migrate(ctx.db, MIGRATION_COMPONENT, MIGRATIONS)
