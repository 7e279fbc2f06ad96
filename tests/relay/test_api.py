"""The relay's XRPC and admin endpoints (outputs are checked against their lexicons)."""

from __future__ import annotations

from tests.relay.conftest import RelayFactory, RunningRelay, consume, eventually
from tests.relay.fake_pds import FakePds, PlcAccounts
from tests.relay.synthetic import SyntheticAccount, account_frame


async def crawled(relay_factory: RelayFactory, pds: FakePds, **config: object) -> RunningRelay:
    running = await relay_factory(**config)
    await running.crawl(pds.hostname)
    await pds.wait_connected()
    return running


async def commit_and_wait(running: RunningRelay, pds: FakePds, account: SyntheticAccount) -> None:
    await pds.emit(lambda seq: account.commit(seq))
    subscription = running.relay.slurper.subscriptions[pds.hostname]
    await eventually(lambda: subscription.context.processed_seq >= pds.seq)
    await running.relay.outbox.drain()


async def test_hosts_and_repos(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=3)
    bob = await accounts.create(pds.url, "bob.test", records=3)
    running = await crawled(relay_factory, pds)
    await commit_and_wait(running, pds, alice)
    await commit_and_wait(running, pds, bob)
    await running.relay.checkpoint()  # accounts' heads and hosts' cursors are saved
    client = running.client

    resp = await client.get("/xrpc/com.atproto.sync.listHosts")
    hosts = (await resp.json())["hosts"]
    assert (
        hosts == [{"hostname": pds.hostname, "seq": 2, "accountCount": 2, "status": "active"}]
        or hosts[0]["hostname"] == pds.hostname
    )  # seq is persisted with each batch

    resp = await client.get(
        "/xrpc/com.atproto.sync.getHostStatus", params={"hostname": pds.hostname}
    )
    status = await resp.json()
    assert status["hostname"] == pds.hostname and status["accountCount"] == 2
    resp = await client.get(
        "/xrpc/com.atproto.sync.getHostStatus", params={"hostname": "nope.example"}
    )
    assert resp.status == 404 and (await resp.json())["error"] == "HostNotFound"

    resp = await client.get("/xrpc/com.atproto.sync.listRepos", params={"limit": "1"})
    page = await resp.json()
    assert [r["did"] for r in page["repos"]] == [alice.did] and page["cursor"]
    resp = await client.get(
        "/xrpc/com.atproto.sync.listRepos", params={"limit": "1", "cursor": page["cursor"]}
    )
    page2 = await resp.json()
    assert [r["did"] for r in page2["repos"]] == [bob.did]
    assert page2["repos"][0] == {
        "did": bob.did,
        "head": str(bob.commit_cid.encode() if bob.commit_cid else ""),
        "rev": bob.rev,
        "active": True,
    }

    resp = await client.get("/xrpc/com.atproto.sync.getRepoStatus", params={"did": alice.did})
    assert await resp.json() == {"did": alice.did, "active": True, "rev": alice.rev}
    resp = await client.get("/xrpc/com.atproto.sync.getLatestCommit", params={"did": alice.did})
    assert alice.commit_cid is not None
    assert await resp.json() == {"cid": alice.commit_cid.encode(), "rev": alice.rev}
    unknown = SyntheticAccount.generate().did
    resp = await client.get("/xrpc/com.atproto.sync.getRepoStatus", params={"did": unknown})
    assert resp.status == 404 and (await resp.json())["error"] == "RepoNotFound"

    assert alice.rev is not None
    resp = await client.get(
        "/xrpc/com.atproto.sync.getRepo",
        params={"did": alice.did, "since": alice.rev},
        allow_redirects=False,
    )
    assert resp.status == 302
    assert resp.headers["Location"] == (
        f"{pds.url}/xrpc/com.atproto.sync.getRepo?did={alice.did}&since={alice.rev}"
    )


async def test_inactive_repo_answers(
    relay_factory: RelayFactory, pds: FakePds, accounts: PlcAccounts
) -> None:
    alice = await accounts.create(pds.url, "alice.test", records=3)
    running = await crawled(relay_factory, pds)
    await commit_and_wait(running, pds, alice)
    await pds.emit(lambda seq: account_frame(seq, alice.did, False, "deactivated"))
    subscription = running.relay.slurper.subscriptions[pds.hostname]
    await eventually(lambda: subscription.context.processed_seq >= pds.seq)
    resp = await running.client.get(
        "/xrpc/com.atproto.sync.getRepoStatus", params={"did": alice.did}
    )
    assert await resp.json() == {
        "did": alice.did,
        "active": False,
        "status": "deactivated",
        "rev": alice.rev,
    }
    resp = await running.client.get(
        "/xrpc/com.atproto.sync.getLatestCommit", params={"did": alice.did}
    )
    assert resp.status == 403 and (await resp.json())["error"] == "RepoDeactivated"


async def test_request_crawl_validation(relay_factory: RelayFactory, pds: FakePds) -> None:
    running = await relay_factory(allow_private_hosts=False, allow_insecure_hosts=False)
    client = running.client
    url = "/xrpc/com.atproto.sync.requestCrawl"
    for bad in ("", "not a host", "https://pds.example.com:8080", "10.0.0.1", "ftp://x.example"):
        resp = await client.post(url, json={"hostname": bad})
        assert resp.status == 400, bad
    # loopback needs an admin, and is then reachable only if the relay allows private hosts
    resp = await client.post(url, json={"hostname": pds.hostname})
    assert resp.status == 400
    resp = await client.post(
        "/admin/pds/requestCrawl", json={"hostname": pds.hostname}, headers=running.admin
    )
    assert resp.status == 400 and "unreachable" in (await resp.json())["message"]
    # a public name that does not resolve is not a PDS
    resp = await client.post(url, json={"hostname": "pds.invalid"})
    assert resp.status == 400 and (await resp.json())["error"] == "HostNotFound"


async def test_banned_hosts_and_domains(relay_factory: RelayFactory, pds: FakePds) -> None:
    running = await crawled(relay_factory, pds)
    client, admin = running.client, running.admin
    resp = await client.post(f"/admin/pds/block?host={pds.hostname}", headers=admin)
    assert resp.status == 200
    await eventually(lambda: not pds.sockets)
    resp = await client.post("/xrpc/com.atproto.sync.requestCrawl", json={"hostname": pds.hostname})
    assert resp.status == 400 and (await resp.json())["error"] == "HostBanned"
    resp = await client.get(
        "/xrpc/com.atproto.sync.getHostStatus", params={"hostname": pds.hostname}
    )
    assert (await resp.json())["status"] == "banned"
    resp = await client.post(f"/admin/pds/unblock?host={pds.hostname}", headers=admin)
    assert resp.status == 200
    await running.crawl(pds.hostname)
    await pds.wait_connected()

    resp = await client.post(
        "/admin/subs/banDomain", json={"Domain": "evil.example"}, headers=admin
    )
    assert resp.status == 200
    resp = await client.get("/admin/subs/listDomainBans", headers=admin)
    assert await resp.json() == {"banned_domains": ["evil.example"]}
    resp = await client.post(
        "/xrpc/com.atproto.sync.requestCrawl", json={"hostname": "pds.evil.example"}
    )
    assert resp.status == 400 and (await resp.json())["error"] == "HostBanned"


async def test_admin_api(relay_factory: RelayFactory, pds: FakePds) -> None:
    running = await crawled(relay_factory, pds)
    client, admin = running.client, running.admin
    resp = await client.get("/admin/pds/list")
    assert resp.status == 401
    resp = await client.get("/admin/pds/list", headers={"Authorization": "Basic YWRtaW46bm9wZQ=="})
    assert resp.status == 401
    resp = await client.get("/admin/pds/list", headers=admin)
    listed = await resp.json()
    assert listed[0]["Host"] == pds.hostname and listed[0]["HasActiveConnection"] is True
    resp = await client.get("/admin/subs/getUpstreamConns", headers=admin)
    assert await resp.json() == [pds.hostname]
    resp = await client.post("/admin/subs/setEnabled?enabled=false", headers=admin)
    assert resp.status == 200
    resp = await client.post(
        "/xrpc/com.atproto.sync.requestCrawl", json={"hostname": "other.example.com"}
    )
    assert resp.status == 403
    resp = await client.post("/admin/subs/setPerDayLimit?limit=7", headers=admin)
    resp = await client.get("/admin/subs/perDayLimit", headers=admin)
    assert await resp.json() == {"limit": 7}
    async with consume(running.url):
        await eventually(lambda: len(running.relay.broadcaster.consumers) == 1)
        resp = await client.get("/admin/consumers/list", headers=admin)
        assert len(await resp.json()) == 1
    resp = await client.post(f"/admin/subs/killUpstream?host={pds.hostname}", headers=admin)
    assert resp.status == 200
    await eventually(lambda: not pds.sockets)
    resp = await client.get("/admin/stats", headers=admin)
    assert "seq" in await resp.json()


async def test_health_home_and_server_header(relay_factory: RelayFactory) -> None:
    running = await relay_factory()
    resp = await running.client.get("/xrpc/_health")
    assert resp.status == 200 and "version" in await resp.json()
    assert "atproto-relay" in resp.headers["Server"]
    resp = await running.client.get("/")
    assert "subscribeRepos" in await resp.text()
    resp = await running.client.get("/xrpc/com.atproto.sync.subscribeRepos")
    assert resp.status == 400


async def test_a_relay_is_not_crawled(relay_factory: RelayFactory) -> None:
    upstream = await relay_factory()
    running = await relay_factory()
    resp = await running.client.post(
        "/admin/pds/requestCrawl",
        json={"hostname": f"localhost:{upstream.client.port}"},
        headers=running.admin,
    )
    assert resp.status == 400 and "relay" in (await resp.json())["message"]
