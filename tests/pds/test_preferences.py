"""``app.bsky.actor.getPreferences``/``putPreferences`` on a real PDS, on both databases."""

from __future__ import annotations

from datetime import date
from typing import Any

import aiohttp
import orjson
from aiohttp.test_utils import TestClient, TestServer

from sonet.pds.api.preferences import declared_age
from sonet.pds.app import build_pds_app
from sonet.xrpc.tokens import AuthScope
from tests.pds.conftest import PdsFactory, RunningPds, create_test_account
from tests.pds.test_proxy_fakes import running_appview

AREA = "sonet.pds.api.preferences"
GET = "/xrpc/app.bsky.actor.getPreferences"
PUT = "/xrpc/app.bsky.actor.putPreferences"
DEFS = "app.bsky.actor.defs#"
ADULT = {"$type": DEFS + "adultContentPref", "enabled": True}
SAVED = {
    "$type": DEFS + "savedFeedsPrefV2",
    "items": [
        {"id": "3l6ovcmm2vd2j", "type": "timeline", "value": "following", "pinned": True},
        {
            "id": "3l6ovcmm2vd2k",
            "type": "feed",
            "value": "at://did:plc:z72i7hdynmk6r22z27h6tvur/app.bsky.feed.generator/whats-hot",
            "pinned": False,
        },
    ],
}
DETAILS = {"$type": DEFS + "personalDetailsPref", "birthDate": "1990-05-01T00:00:00.000Z"}
DECLARED = {
    "$type": DEFS + "declaredAgePref",
    "isOverAge13": True,
    "isOverAge16": True,
    "isOverAge18": True,
}
FEED_VIEW = {
    "$type": DEFS + "feedViewPref",
    "feed": "home",
    "hideReplies": True,
    "hideRepliesByUnfollowed": True,  # the lexicon default, filled in on input
}


def bearer(pds: RunningPds, did: str, scope: AuthScope = AuthScope.ACCESS) -> dict[str, str]:
    return {"Authorization": f"Bearer {pds.ctx.tokens.create_access(did, scope)}"}


async def get_prefs(pds: RunningPds, auth: dict[str, str]) -> list[dict[str, Any]]:
    resp = await pds.client.get(GET, headers=auth)
    assert resp.status == 200, await resp.text()
    prefs: list[dict[str, Any]] = (await resp.json())["preferences"]
    return prefs


async def put_prefs(
    pds: RunningPds, auth: dict[str, str], prefs: list[dict[str, Any]]
) -> aiohttp.ClientResponse:
    return await pds.client.post(PUT, json={"preferences": prefs}, headers=auth)


async def test_round_trip_replaces_everything(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    alice, _ = await create_test_account(pds.ctx, "alice.test")
    bob, _ = await create_test_account(pds.ctx, "bob.test")
    auth = bearer(pds, alice)
    assert await get_prefs(pds, auth) == []
    resp = await put_prefs(pds, auth, [ADULT, SAVED, DETAILS, DECLARED])
    assert resp.status == 200, await resp.text()
    assert await get_prefs(pds, auth) == [ADULT, SAVED, DETAILS, DECLARED]
    assert await get_prefs(pds, bearer(pds, bob)) == []
    resp = await put_prefs(pds, auth, [FEED_VIEW])
    assert resp.status == 200
    assert await get_prefs(pds, auth) == [FEED_VIEW]
    assert (await put_prefs(pds, auth, [])).status == 200
    assert await get_prefs(pds, auth) == []
    assert (await pds.client.get(GET)).status == 401


async def test_app_passwords_cannot_touch_personal_details(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    alice, _ = await create_test_account(pds.ctx, "alice.test")
    full, app = bearer(pds, alice), bearer(pds, alice, AuthScope.APP_PASS)
    assert (await put_prefs(pds, full, [ADULT, DETAILS])).status == 200
    assert await get_prefs(pds, app) == [ADULT, DECLARED]
    resp = await put_prefs(pds, app, [DETAILS])
    assert resp.status == 400
    assert (await resp.json())["message"] == (
        "Do not have authorization to set preferences: " + DEFS + "personalDetailsPref"
    )
    assert (await put_prefs(pds, app, [FEED_VIEW])).status == 200
    assert await get_prefs(pds, full) == [DETAILS, FEED_VIEW, DECLARED]
    privileged = bearer(pds, alice, AuthScope.APP_PASS_PRIVILEGED)
    assert await get_prefs(pds, privileged) == [FEED_VIEW, DECLARED]


async def test_refused_preferences_change_nothing(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    alice, _ = await create_test_account(pds.ctx, "alice.test")
    auth = bearer(pds, alice)
    assert (await put_prefs(pds, auth, [ADULT])).status == 200
    foreign = await put_prefs(pds, auth, [FEED_VIEW, {"$type": "com.example.pref", "x": 1}])
    assert foreign.status == 400
    assert (await foreign.json())["message"] == "Some preferences are not in the app.bsky namespace"
    untyped = await put_prefs(pds, auth, [{"enabled": True}])
    assert untyped.status == 400
    wrong = await put_prefs(pds, auth, [{"$type": DEFS + "adultContentPref", "enabled": "yes"}])
    assert wrong.status == 400
    missing = await pds.client.post(PUT, json={}, headers=auth)
    assert missing.status == 400
    assert await get_prefs(pds, auth) == [ADULT]


async def test_taken_down_accounts(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[AREA])
    alice, _ = await create_test_account(pds.ctx, "alice.test")
    assert (await put_prefs(pds, bearer(pds, alice), [ADULT])).status == 200
    async with pds.ctx.db.write() as conn:
        await pds.ctx.accounts.store.set_fields(
            conn, alice, takedown_ref="mod-1", status="takendown"
        )
    resp = await put_prefs(pds, bearer(pds, alice), [FEED_VIEW])
    assert (resp.status, (await resp.json())["error"]) == (401, "AccountTakedown")
    assert await get_prefs(pds, bearer(pds, alice, AuthScope.TAKENDOWN)) == [ADULT]
    resp = await put_prefs(pds, bearer(pds, alice, AuthScope.TAKENDOWN), [FEED_VIEW])
    assert resp.status == 400
    gone = "did:plc:gone234567abcdefghijklmn"
    resp = await put_prefs(pds, bearer(pds, gone), [FEED_VIEW])
    assert (resp.status, (await resp.json())["error"]) == (403, "AccountNotFound")


async def test_other_appview_named_by_header_gets_the_call(pds_factory: PdsFactory) -> None:
    async with running_appview() as default, running_appview() as other:
        pds = await pds_factory(areas=[AREA], appview_url=default.url, appview_did=default.did)
        alice, key = await create_test_account(pds.ctx, "alice.test")
        other.keys[alice] = default.keys[alice] = key.public_key()
        auth = bearer(pds, alice)
        assert (await put_prefs(pds, auth, [ADULT])).status == 200
        named_default = {**auth, "atproto-proxy": f"{default.did}#bsky_appview"}
        assert await get_prefs(pds, named_default) == [ADULT]
        # XrpcRouter's output check takes a streamed response for a JSON object (aiohttp
        # responses are Mappings), so the proxied answers are read from an app serving the
        # same PDS without output checks.
        unchecked = RunningPds(pds.ctx, TestClient(TestServer(build_pds_app(pds.ctx))))
        await unchecked.client.start_server()
        try:
            proxied = {**auth, "atproto-proxy": f"{other.did}#bsky_appview"}
            assert await get_prefs(unchecked, proxied) == [{"$type": "app.example.fromAppview"}]
            resp = await put_prefs(unchecked, proxied, [FEED_VIEW])
            assert resp.status == 200
        finally:
            await unchecked.client.close()
        assert [call.nsid for call in other.calls] == [
            "app.bsky.actor.getPreferences",
            "app.bsky.actor.putPreferences",
        ]
        assert orjson.loads(other.calls[1].body) == {"preferences": [FEED_VIEW]}
        assert other.calls[1].jwt.lxm == "app.bsky.actor.putPreferences"
        assert default.calls == []
        assert await get_prefs(pds, auth) == [ADULT]


def test_declared_age_boundaries() -> None:
    today = date(2025, 5, 1)
    assert declared_age("2012-05-01T00:00:00Z", today) == {
        "$type": DEFS + "declaredAgePref",
        "isOverAge13": True,
        "isOverAge16": False,
        "isOverAge18": False,
    }
    assert declared_age("2012-05-02T00:00:00Z", today)["isOverAge13"] is False  # type: ignore[index]
    assert declared_age("2007-04-30T23:00:00.000Z", today)["isOverAge18"] is True  # type: ignore[index]
    assert declared_age("not a date", today) is None
    assert declared_age(None, today) is None
