"""createAccount and describeServer against a real PDS and PLC directory, on both databases."""

from __future__ import annotations

from typing import Any

from sonet.crypto import generate_keypair
from sonet.identity.plc_client import PlcClient
from sonet.pds.accounts.service import account_service
from tests.pds.conftest import PdsFactory, RunningPds
from tests.pds.test_server_support import (
    AREAS,
    NO_BODY,
    PASSWORD,
    call,
    events_of,
    pds,
    plc_url,
    signup,
)

S = "com.atproto.server."

__all__ = ["pds", "plc_url"]


async def test_describe_server(pds: RunningPds) -> None:
    out = await call(pds, "com.atproto.server.describeServer")
    assert out["did"] == pds.ctx.config.service_did
    assert out["inviteCodeRequired"] is False
    assert out["availableUserDomains"] == [".test"]


async def test_create_account_mints_a_plc_did_and_sequences_events(
    pds: RunningPds, plc_url: str
) -> None:
    out = await signup(pds, "Alice")
    did = out["did"]
    assert did.startswith("did:plc:") and out["handle"] == "alice.test"
    assert out["didDoc"]["id"] == did
    service = account_service(pds.ctx)
    data = await PlcClient(pds.ctx.http.session(), plc_url).get_document_data(did)
    assert data["rotationKeys"] == [service.rotation_key.did()]
    assert data["alsoKnownAs"] == ["at://alice.test"]
    key = await pds.ctx.accounts.signing_key(did)
    assert data["verificationMethods"]["atproto"] == key.did()
    kinds = [kind for kind, _ in await events_of(pds, did)]
    assert kinds == ["#identity", "#account", "#commit", "#sync"]
    session = await call(pds, "com.atproto.server.getSession", token=out["accessJwt"])
    assert session["did"] == did and session["active"] is True


async def test_signup_refusals(pds: RunningPds) -> None:
    await signup(pds, "taken")

    async def refused(body: dict[str, Any]) -> dict[str, Any]:
        base = {"handle": "fresh.test", "email": "fresh@example.com", "password": PASSWORD}
        base.update(body)
        sent = {k: v for k, v in base.items() if v is not None}
        out = await call(pds, S + "createAccount", sent, status=400)
        assert isinstance(out, dict)
        return out

    assert (await refused({"handle": "not a handle"}))["error"] == "InvalidRequest"
    assert (await refused({"handle": "someone.example.com"}))["error"] == "UnsupportedDomain"
    assert (await refused({"handle": "ab.test"})) == {
        "error": "InvalidHandle",
        "message": "Handle too short",
    }
    assert (await refused({"handle": "a" * 19 + ".test"}))["message"] == "Handle too long"
    assert (await refused({"handle": "a.b.test"}))["error"] == "InvalidHandle"
    assert (await refused({"handle": "admin.test"}))["error"] == "HandleNotAvailable"
    assert (await refused({"handle": "TAKEN.test"}))["error"] == "HandleNotAvailable"
    assert (await refused({"handle": "x.localhost"}))["error"] == "InvalidHandle"
    assert (await refused({"email": None}))["message"] == "Email is required"
    assert (await refused({"email": "nope"}))["message"].startswith("This email address")
    assert (await refused({"email": "Taken@Example.com"}))["message"].startswith("Email already")
    too_long = await refused({"password": "p" * 257})
    assert too_long["message"].startswith("Password too long")
    assert (await refused({"plcOp": {"x": 1}}))["message"] == 'Unsupported input: "plcOp"'
    assert (await refused({"recoveryKey": "did:key:nope"}))["message"].startswith("recoveryKey")
    assert (await refused({"inviteCode": "no-such-code"}))["error"] == "InvalidInviteCode"
    # nothing of the refused signups was kept
    assert await pds.ctx.accounts.lookup("fresh.test") is None


async def test_recovery_key_comes_first(pds: RunningPds, plc_url: str) -> None:
    recovery = generate_keypair().did()
    out = await signup(pds, "quinn", recoveryKey=recovery)
    data = await PlcClient(pds.ctx.http.session(), plc_url).get_document_data(out["did"])
    assert data["rotationKeys"] == [recovery, account_service(pds.ctx).rotation_key.did()]


async def test_invite_codes_when_required(pds_factory: PdsFactory, plc_url: str) -> None:
    pds = await pds_factory(areas=AREAS, plc_url=plc_url, invite_required=True)
    described = await call(pds, S + "describeServer")
    assert described["inviteCodeRequired"] is True
    out = await call(
        pds, S + "createAccount", {"handle": "rita.test", "email": "r@example.com"}, status=400
    )
    assert out == {"error": "InvalidInviteCode", "message": "No invite code provided"}
    code = (await call(pds, S + "createInviteCode", {"useCount": 1}, admin=True))["code"]
    assert code.startswith("localhost-")
    await call(pds, S + "createInviteCode", {"useCount": 1}, status=401)
    first = await signup(pds, "rita", inviteCode=code)
    out = await call(
        pds,
        S + "createAccount",
        {"handle": "sam.test", "email": "s@example.com", "inviteCode": code},
        status=400,
    )
    assert out["error"] == "InvalidInviteCode"
    info = await call(
        pds, "com.atproto.admin.getAccountInfo", params={"did": first["did"]}, admin=True
    )
    assert info["invitedBy"]["code"] == code
    assert info["invitedBy"]["uses"][0]["usedBy"] == first["did"]
    made = await call(
        pds,
        S + "createInviteCodes",
        {"codeCount": 2, "useCount": 3, "forAccounts": [first["did"]]},
        admin=True,
    )
    assert made["codes"][0]["account"] == first["did"] and len(made["codes"][0]["codes"]) == 2
    mine = await call(pds, S + "getAccountInviteCodes", token=first["accessJwt"])
    assert sorted(c["code"] for c in mine["codes"]) == sorted(made["codes"][0]["codes"])
    assert all(c["available"] == 3 and c["uses"] == [] for c in mine["codes"])
    await signup(pds, "tess", inviteCode=made["codes"][0]["codes"][0])


async def test_migration_with_service_auth_starts_deactivated(
    pds_factory: PdsFactory, plc_url: str
) -> None:
    old = await pds_factory(areas=AREAS, plc_url=plc_url)
    new = await pds_factory(
        areas=AREAS, plc_url=plc_url, service_did="did:web:new.test", public_url="http://new.test"
    )
    account_service(old.ctx).login_floor = account_service(new.ctx).login_floor = 0.0
    moving = await signup(old, "uma")
    did = moving["did"]
    body = {"handle": "uma.test", "email": "uma@example.com", "password": PASSWORD, "did": did}
    out = await call(new, S + "createAccount", body, status=401)
    assert out["message"] == f"Missing auth to create account with did: {did}"
    auth = await call(
        old,
        S + "getServiceAuth",
        params={"aud": "did:web:new.test", "lxm": S + "createAccount"},
        token=moving["accessJwt"],
    )
    created = await call(new, S + "createAccount", body, token=auth["token"])
    assert created["did"] == did and created["didDoc"]["id"] == did
    assert await events_of(new, did) == []  # an import sequences nothing until activation
    session = await call(new, S + "getSession", token=created["accessJwt"])
    assert session["active"] is False and session["status"] == "deactivated"
    status = await call(new, S + "checkAccountStatus", token=created["accessJwt"])
    assert status["activated"] is False and status["validDid"] is False
    # the DID still points at the old PDS: activation is refused
    out = await call(new, S + "activateAccount", NO_BODY, token=created["accessJwt"], status=400)
    assert "does not match" in out["message"] or "rotation key" in out["message"]
    # the old PDS points the DID at the new one (what identity.signPlcOperation does)
    await PlcClient(old.ctx.http.session(), plc_url).update_atproto(
        did,
        account_service(old.ctx).rotation_key,
        signing_key=await new.ctx.accounts.signing_key(did),
        pds_endpoint="http://new.test",
        rotation_keys=[account_service(new.ctx).rotation_key],
    )
    await call(new, S + "activateAccount", NO_BODY, token=created["accessJwt"])
    status = await call(new, S + "checkAccountStatus", token=created["accessJwt"])
    assert status["activated"] is True and status["validDid"] is True
    kinds = [kind for kind, _ in await events_of(new, did)]
    assert kinds == ["#account", "#identity", "#sync"]
