"""The PDS app starts on both databases and answers health checks and unknown methods."""

from __future__ import annotations

from tests.pds.conftest import PdsFactory, create_test_account


async def test_app_starts_and_hosts_repos(pds_factory: PdsFactory) -> None:
    pds = await pds_factory(areas=[])
    resp = await pds.client.get("/xrpc/_health")
    assert resp.status == 200
    resp = await pds.client.get("/xrpc/com.example.nothing")
    assert resp.status == 501
    assert (await resp.json())["error"] == "MethodNotImplemented"
    did, key = await create_test_account(pds.ctx, "alice.test")
    assert (await pds.ctx.accounts.signing_key(did)).did() == key.did()
    assert (await pds.ctx.repos.head(did)).did == did
