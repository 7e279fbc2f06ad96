"""App passwords: create/list/revoke, the scopes of their sessions and what those may not do."""

from __future__ import annotations

from sonet.xrpc.tokens import AuthScope
from tests.pds.conftest import RunningPds
from tests.pds.test_server_support import NO_BODY, call, pds, plc_url, signup

__all__ = ["pds", "plc_url"]

S = "com.atproto.server."


async def test_app_password_life_cycle_and_scopes(pds: RunningPds) -> None:
    out = await signup(pds, "ivy")
    token = out["accessJwt"]
    plain = await call(pds, S + "createAppPassword", {"name": "client"}, token=token)
    assert plain["name"] == "client" and plain["privileged"] is False
    assert len(plain["password"]) == 19 and plain["password"].count("-") == 3
    privileged = await call(
        pds, S + "createAppPassword", {"name": "dm", "privileged": True}, token=token
    )
    dup = await call(pds, S + "createAppPassword", {"name": "dm"}, token=token, status=400)
    assert dup["error"] == "InvalidRequest"
    listed = await call(pds, S + "listAppPasswords", token=token)
    assert {p["name"]: p["privileged"] for p in listed["passwords"]} == {
        "client": False,
        "dm": True,
    }
    assert all("password" not in p for p in listed["passwords"])

    login = {"identifier": "ivy.test", "password": plain["password"]}
    app_session = await call(pds, S + "createSession", login)
    scope = pds.ctx.tokens.verify_access(app_session["accessJwt"]).scope
    assert scope is AuthScope.APP_PASS
    login = {"identifier": "ivy@example.com", "password": privileged["password"]}
    dm_session = await call(pds, S + "createSession", login)
    assert pds.ctx.tokens.verify_access(dm_session["accessJwt"]).scope is (
        AuthScope.APP_PASS_PRIVILEGED
    )
    # refreshing keeps the app-password scope
    refreshed = await call(pds, S + "refreshSession", NO_BODY, token=app_session["refreshJwt"])
    assert pds.ctx.tokens.verify_access(refreshed["accessJwt"]).scope is AuthScope.APP_PASS

    # app-password sessions can not manage the account
    app_token = refreshed["accessJwt"]
    for nsid, body in (
        ("createAppPassword", {"name": "more"}),
        ("deactivateAccount", {}),
        ("requestEmailUpdate", NO_BODY),
        ("requestAccountDelete", NO_BODY),
    ):
        refused = await call(pds, S + nsid, body, token=app_token, status=400)
        assert refused == {"error": "InvalidToken", "message": "Bad token scope"}, nsid
    await call(pds, S + "getSession", token=app_token)

    # only full and privileged sessions may delegate chat methods
    params = {"aud": "did:web:chat.example.com", "lxm": "chat.bsky.convo.getLog"}
    refused = await call(pds, S + "getServiceAuth", params=params, token=app_token, status=400)
    assert refused["message"].startswith("insufficient access")
    await call(pds, S + "getServiceAuth", params=params, token=dm_session["accessJwt"])

    # revoking ends the app password and its sessions
    await call(pds, S + "revokeAppPassword", {"name": "client"}, token=token)
    login = {"identifier": "ivy.test", "password": plain["password"]}
    await call(pds, S + "createSession", login, status=401)
    gone = await call(pds, S + "refreshSession", NO_BODY, token=refreshed["refreshJwt"], status=400)
    assert gone["error"] == "ExpiredToken"
    listed = await call(pds, S + "listAppPasswords", token=token)
    assert [p["name"] for p in listed["passwords"]] == ["dm"]
