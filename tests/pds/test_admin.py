"""The com.atproto.admin area with the admin password: account info and search, handle/email/
password changes, takedowns and subject status, invite control, deletion and sendEmail."""

from __future__ import annotations

import base64
import logging

import pytest

from sonet.identity.plc_client import PlcClient
from tests.pds.conftest import RunningPds
from tests.pds.test_server_support import PASSWORD, call, events_of, pds, plc_url, signup

__all__ = ["pds", "plc_url"]

A = "com.atproto.admin."
S = "com.atproto.server."


async def test_admin_password_is_required(pds: RunningPds) -> None:
    out = await call(pds, A + "searchAccounts", status=401)
    assert out["error"] == "AuthenticationRequired"
    wrong = "Basic " + base64.b64encode(b"admin:nope").decode()
    resp = await pds.client.get(f"/xrpc/{A}searchAccounts", headers={"Authorization": wrong})
    assert resp.status == 401
    user = (await signup(pds, "vera"))["accessJwt"]
    out = await call(pds, A + "searchAccounts", token=user, status=401)
    assert out["error"] == "AuthenticationRequired"


async def test_account_info_search_and_updates(pds: RunningPds, plc_url: str) -> None:
    first = await signup(pds, "walt")
    second = await signup(pds, "xena")
    info = await call(pds, A + "getAccountInfo", params={"did": first["did"]}, admin=True)
    assert info["handle"] == "walt.test" and info["email"] == "walt@example.com"
    assert info["invites"] == [] and info["invitesDisabled"] is False
    out = await call(
        pds, A + "getAccountInfo", params={"did": "did:plc:" + "a" * 24}, admin=True, status=400
    )
    assert out["error"] == "NotFound"
    infos = await call(
        pds, A + "getAccountInfos", params={"dids": [first["did"], second["did"]]}, admin=True
    )
    assert sorted(i["handle"] for i in infos["infos"]) == ["walt.test", "xena.test"]
    found = await call(pds, A + "searchAccounts", params={"email": "XEN"}, admin=True)
    assert [a["did"] for a in found["accounts"]] == [second["did"]]
    page = await call(pds, A + "searchAccounts", params={"limit": 1}, admin=True)
    rest = await call(
        pds, A + "searchAccounts", params={"limit": 1, "cursor": page["cursor"]}, admin=True
    )
    assert {page["accounts"][0]["did"], rest["accounts"][0]["did"]} == {
        first["did"],
        second["did"],
    }

    # handle: PLC document updated, #identity sequenced, reserved names allowed for the admin
    body = {"did": first["did"], "handle": "Support.test"}
    await call(pds, A + "updateAccountHandle", body, admin=True)
    data = await PlcClient(pds.ctx.http.session(), plc_url).get_document_data(first["did"])
    assert data["alsoKnownAs"] == ["at://support.test"]
    kind, event = (await events_of(pds, first["did"]))[-1]
    assert kind == "#identity" and event["handle"] == "support.test"
    body = {"did": second["did"], "handle": "support.test"}
    out = await call(pds, A + "updateAccountHandle", body, admin=True, status=400)
    assert out["error"] == "HandleNotAvailable"

    # email and password
    body = {"account": "xena.test", "email": "Xena2@example.com"}
    await call(pds, A + "updateAccountEmail", body, admin=True)
    body = {"did": second["did"], "password": "admin-set-password"}
    await call(pds, A + "updateAccountPassword", body, admin=True)
    login = {"identifier": "xena2@example.com", "password": "admin-set-password"}
    await call(pds, S + "createSession", login)
    await call(
        pds, S + "createSession", {"identifier": "xena.test", "password": PASSWORD}, status=401
    )


async def test_takedown_and_subject_status(pds: RunningPds) -> None:
    out = await signup(pds, "yuri")
    did = out["did"]
    subject = {"$type": "com.atproto.admin.defs#repoRef", "did": did}
    status = await call(pds, A + "getSubjectStatus", params={"did": did}, admin=True)
    assert status["takedown"] == {"applied": False} and status["deactivated"] == {"applied": False}
    applied = {"applied": True, "ref": "ticket-7"}
    body = {"subject": subject, "takedown": applied}
    echoed = await call(pds, A + "updateSubjectStatus", body, admin=True)
    assert echoed == body
    status = await call(pds, A + "getSubjectStatus", params={"did": did}, admin=True)
    assert status["takedown"] == applied
    kind, event = (await events_of(pds, did))[-1]
    assert kind == "#account" and event["active"] is False and event["status"] == "takendown"
    both = {"subject": subject, "takedown": applied, "deactivated": {"applied": False}}
    out = await call(pds, A + "updateSubjectStatus", both, admin=True, status=400)
    assert out["message"].startswith("Cannot activate and takedown")
    record = {"$type": "com.atproto.repo.strongRef", "uri": f"at://{did}/a.b/c", "cid": "bafyreih"}
    await call(pds, A + "updateSubjectStatus", {"subject": record}, admin=True, status=400)
    # deactivation by the admin, then reversing both
    body = {"subject": subject, "deactivated": {"applied": True}}
    await call(pds, A + "updateSubjectStatus", body, admin=True)
    body = {"subject": subject, "takedown": {"applied": False}}
    await call(pds, A + "updateSubjectStatus", body, admin=True)
    kind, event = (await events_of(pds, did))[-1]
    assert event["status"] == "deactivated"
    out = await call(
        pds, A + "getSubjectStatus", params={"did": "did:plc:" + "b" * 24}, admin=True, status=400
    )
    assert out["error"] == "NotFound"
    out = await call(pds, A + "getSubjectStatus", admin=True, status=400)
    assert out["message"] == "No provided subject"


async def test_invite_control(pds: RunningPds) -> None:
    user = await signup(pds, "zack")
    made = await call(pds, S + "createInviteCodes", {"codeCount": 3, "useCount": 2}, admin=True)
    codes = made["codes"][0]["codes"]
    assert made["codes"][0]["account"] == "admin" and len(codes) == 3
    given = await call(
        pds, S + "createInviteCode", {"useCount": 1, "forAccount": user["did"]}, admin=True
    )
    await signup(pds, "amy", inviteCode=codes[0])
    await signup(pds, "ben", inviteCode=codes[0])
    usage = await call(pds, A + "getInviteCodes", params={"sort": "usage", "limit": 1}, admin=True)
    assert usage["codes"][0]["code"] == codes[0] and len(usage["codes"][0]["uses"]) == 2
    seen = [usage["codes"][0]["code"]]
    cursor = usage["cursor"]
    while cursor:
        page = await call(
            pds,
            A + "getInviteCodes",
            params={"sort": "usage", "limit": 1, "cursor": cursor},
            admin=True,
        )
        seen += [c["code"] for c in page["codes"]]
        cursor = page.get("cursor") if page["codes"] else None
    assert sorted(seen) == sorted([*codes, given["code"]])
    recent = await call(pds, A + "getInviteCodes", admin=True)
    assert len(recent["codes"]) == 4
    bad = await call(pds, A + "getInviteCodes", params={"cursor": "nope"}, admin=True, status=400)
    assert bad["message"] == "Malformed cursor"

    await call(pds, A + "disableInviteCodes", {"codes": [codes[1]]}, admin=True)
    out = await call(
        pds,
        S + "createAccount",
        {"handle": "cleo.test", "email": "cleo@example.com", "inviteCode": codes[1]},
        status=400,
    )
    assert out["error"] == "InvalidInviteCode"
    out = await call(pds, A + "disableInviteCodes", {"accounts": ["admin"]}, admin=True, status=400)
    assert out["message"] == "cannot disable admin invite codes"
    await call(pds, A + "disableAccountInvites", {"account": user["did"]}, admin=True)
    info = await call(pds, A + "getAccountInfo", params={"did": user["did"]}, admin=True)
    assert info["invitesDisabled"] is True and info["invites"][0]["code"] == given["code"]
    await call(pds, A + "enableAccountInvites", {"account": user["did"]}, admin=True)
    await call(pds, A + "disableInviteCodes", {"accounts": [user["did"]]}, admin=True)
    mine = await call(pds, S + "getAccountInviteCodes", token=user["accessJwt"])
    assert mine["codes"] == []


async def test_admin_delete_and_send_email(
    pds: RunningPds, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sonet.pds.mailer")
    out = await signup(pds, "dora")
    did = out["did"]
    body = {"recipientDid": did, "content": "Hello from the admin", "senderDid": did}
    sent = await call(pds, A + "sendEmail", body, admin=True)
    assert sent == {"sent": True}
    assert "Hello from the admin" in caplog.text and "Message via your PDS" in caplog.text
    await call(pds, A + "deleteAccount", {"did": did}, admin=True)
    assert await pds.ctx.accounts.get(did) is None
    [(kind, event)] = await events_of(pds, did)  # earlier events purged
    assert kind == "#account" and event["status"] == "deleted"
    body = {"recipientDid": did, "content": "gone", "senderDid": did}
    out = await call(pds, A + "sendEmail", body, admin=True, status=400)
    assert out["message"] == "Recipient not found"
