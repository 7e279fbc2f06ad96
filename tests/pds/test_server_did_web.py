"""A did:web account moving in: createAccount with service auth signed by the did:web key,
then activation once the document served on loopback names this PDS and its key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from sonet.crypto import Keypair, generate_keypair
from sonet.xrpc.service_jwt import create_service_jwt
from tests.pds.conftest import RunningPds
from tests.pds.test_server_support import NO_BODY, PASSWORD, call, events_of, pds, plc_url

__all__ = ["pds", "plc_url"]

S = "com.atproto.server."


class DidWebHost:
    """Serves ``/.well-known/did.json`` for ``did:web:localhost%3A<port>``."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] = {}
        self.server: TestServer | None = None
        self.did = ""

    def publish(self, key: Keypair, handle: str, pds_url: str) -> None:
        self.doc = {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": self.did,
            "alsoKnownAs": [f"at://{handle}"],
            "verificationMethod": [
                {
                    "id": f"{self.did}#atproto",
                    "type": "Multikey",
                    "controller": self.did,
                    "publicKeyMultibase": key.public_key().multibase(),
                }
            ],
            "service": [
                {
                    "id": "#atproto_pds",
                    "type": "AtprotoPersonalDataServer",
                    "serviceEndpoint": pds_url,
                }
            ],
        }


@pytest.fixture
async def did_web() -> AsyncIterator[DidWebHost]:
    host = DidWebHost()

    async def did_json(_request: web.Request) -> web.Response:
        return web.json_response(host.doc)

    app = web.Application()
    app.router.add_get("/.well-known/did.json", did_json)
    host.server = TestServer(app, host="127.0.0.1")
    await host.server.start_server()
    host.did = f"did:web:localhost%3A{host.server.port}"
    yield host
    await host.server.close()


async def test_did_web_account_moves_in(pds: RunningPds, did_web: DidWebHost) -> None:
    own_key = generate_keypair()
    did = did_web.did
    did_web.publish(own_key, "walker.test", "https://old-pds.example.com")
    body = {"handle": "walker.test", "email": "w@example.com", "password": PASSWORD, "did": did}
    service_did = pds.ctx.config.service_did
    forged = create_service_jwt(generate_keypair(), did, service_did, S + "createAccount")
    out = await call(pds, S + "createAccount", body, token=forged, status=401)
    assert out["error"] == "BadJwtSignature"
    wrong_method = create_service_jwt(own_key, did, service_did, S + "getSession")
    out = await call(pds, S + "createAccount", body, token=wrong_method, status=401)
    assert out["error"] == "BadJwtLexiconMethod"
    token = create_service_jwt(own_key, did, service_did, S + "createAccount")
    created = await call(pds, S + "createAccount", body, token=token)
    assert created["did"] == did and created["didDoc"]["id"] == did
    access = created["accessJwt"]
    status = await call(pds, S + "checkAccountStatus", token=access)
    assert status["activated"] is False and status["validDid"] is False
    out = await call(pds, S + "activateAccount", NO_BODY, token=access, status=400)
    assert "service endpoint" in out["message"]
    # the document now names this PDS and the key it generated for the account
    pds_key = await pds.ctx.accounts.signing_key(did)
    did_web.publish(pds_key, "walker.test", pds.ctx.config.public_url)
    await call(pds, S + "activateAccount", NO_BODY, token=access)
    status = await call(pds, S + "checkAccountStatus", token=access)
    assert status["activated"] is True and status["validDid"] is True
    assert [kind for kind, _ in await events_of(pds, did)] == ["#account", "#identity", "#sync"]
