"""End to end on loopback: two real Sonet PDSes, one relay, one consumer.

Accounts on both PDSes post, one changes its handle, one deactivates; the consumer sees every
event once and in order, and a consumer reconnecting with its cursor after a relay restart gets
exactly what came after it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.pds.conftest import PdsFactory, RunningPds, pds_factory  # noqa: F401 - fixture
from tests.relay.conftest import RelayFactory, consume, stop_relay


async def signup(http: aiohttp.ClientSession, pds: RunningPds, handle: str) -> dict[str, Any]:
    body = {"handle": handle, "email": f"{handle}@example.com", "password": "relay-e2e-password"}
    async with http.post(f"{pds.url}/xrpc/com.atproto.server.createAccount", json=body) as resp:
        made = await resp.json()
        assert resp.status == 200, made
        return dict(made)


async def call(
    http: aiohttp.ClientSession, pds: RunningPds, nsid: str, token: str, body: Any
) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    async with http.post(f"{pds.url}/xrpc/{nsid}", json=body, headers=headers) as resp:
        text = await resp.text()
        assert resp.status == 200, text
        return await resp.json() if text else None


async def post(
    http: aiohttp.ClientSession, pds: RunningPds, acct: dict[str, Any], text: str
) -> str:
    out = await call(
        http,
        pds,
        "com.atproto.repo.createRecord",
        acct["accessJwt"],
        {
            "repo": acct["did"],
            "collection": "app.bsky.feed.post",
            "record": {
                "$type": "app.bsky.feed.post",
                "text": text,
                "createdAt": "2026-11-22T00:00:00.000Z",
            },
        },
    )
    return str(out["uri"])


def host(pds: RunningPds) -> str:
    """The host name the accounts' DID documents name (``localhost:<port>``)."""
    return pds.ctx.config.public_url.split("://", 1)[1]


async def test_two_pdses_through_one_relay(
    pds_factory: PdsFactory,  # noqa: F811
    relay_factory: RelayFactory,
    plc_url: str,
) -> None:
    pds_a = await pds_factory(plc_url=plc_url)
    pds_b = await pds_factory(plc_url=plc_url)
    relay = await relay_factory()
    async with aiohttp.ClientSession() as http:
        alice = await signup(http, pds_a, "alice.test")
        bob = await signup(http, pds_b, "bob.test")
        await relay.crawl(host(pds_a))
        await relay.crawl(host(pds_b))
        async with consume(relay.url) as consumer:
            await asyncio.sleep(0.5)
            uris = []
            for n in range(3):
                uris.append(await post(http, pds_a, alice, f"alice {n}"))
                uris.append(await post(http, pds_b, bob, f"bob {n}"))
            await call(
                http,
                pds_a,
                "com.atproto.identity.updateHandle",
                alice["accessJwt"],
                {"handle": "alice2.test"},
            )
            await call(http, pds_b, "com.atproto.server.deactivateAccount", bob["accessJwt"], {})

            def seen_posts() -> set[str]:
                return {
                    f"at://{m['repo']}/{op['path']}"
                    for m in consumer.messages("#commit")
                    for op in m["ops"]
                }

            async with asyncio.timeout(20):
                while not (
                    set(uris) <= seen_posts()
                    and any(
                        m.get("handle") == "alice2.test" for m in consumer.messages("#identity")
                    )
                    and any(
                        m["did"] == bob["did"] and not m["active"]
                        for m in consumer.messages("#account")
                    )
                ):
                    await asyncio.sleep(0.05)
            seqs = [m["seq"] for m in consumer.messages()]
            assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
            per_post = [
                f"at://{m['repo']}/{op['path']}"
                for m in consumer.messages("#commit")
                for op in m["ops"]
                if op["path"].startswith("app.bsky.feed.post/")
            ]
            assert sorted(per_post) == sorted(uris)  # each once
            last_seq = seqs[-1]

        # restart the relay on the same state; a consumer resuming from its cursor gets the rest
        config = relay.relay.config
        await stop_relay(relay)
        again = await relay_factory(
            data_dir=config.data_dir, database_schema=config.database_schema
        )
        await again.crawl(host(pds_a))
        async with consume(again.url, cursor=last_seq) as resumed:
            later = await post(http, pds_a, alice, "after the restart")
            async with asyncio.timeout(20):
                while not any(
                    f"at://{m['repo']}/{op['path']}" == later
                    for m in resumed.messages("#commit")
                    for op in m["ops"]
                ):
                    await asyncio.sleep(0.05)
            resumed_seqs = [m["seq"] for m in resumed.messages() if "seq" in m]
            assert resumed_seqs and min(resumed_seqs) > last_seq
            assert resumed_seqs == sorted(set(resumed_seqs))
            replayed = {
                f"at://{m['repo']}/{op['path']}"
                for m in resumed.messages("#commit")
                for op in m["ops"]
            }
            assert not replayed & set(uris)
