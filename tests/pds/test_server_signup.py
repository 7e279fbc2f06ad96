"""createAccount and describeServer against a real PDS and PLC directory, on both databases."""

from __future__ import annotations

from sonet.identity.plc_client import PlcClient
from sonet.pds.accounts.service import account_service
from tests.pds.conftest import RunningPds
from tests.pds.test_server_support import call, events_of, pds, plc_url, signup

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
