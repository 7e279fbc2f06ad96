"""The whole stack on loopback: Sonet PDS -> relay -> AppView, driven through the PDS with the
official Python ``atproto`` SDK as a Bluesky client would use it.

Users follow, post, reply, quote, like, repost, block and mute; the timeline, the thread, the
profile, search and notifications read back through the PDS (proxied to the AppView with
service auth) show exactly those actions.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from atproto import AsyncClient, models

from sonet.appview.app import build_appview_app, create_appview, ingest_service
from sonet.appview.config import AppviewConfig
from tests.pds.conftest import PdsFactory, RunningPds, pds_factory  # noqa: F401 - fixture
from tests.relay.conftest import RelayFactory, plc_url, relay_factory  # noqa: F401 - fixtures

PASSWORD = "stack-e2e-password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def appview_port() -> int:
    return _free_port()


async def start_appview(
    tmp: Path, port: int, relay_url: str, plc: str
) -> AsyncGenerator[Any, None]:
    config = AppviewConfig(
        port=port,
        public_url=f"http://localhost:{port}",
        service_did=f"did:web:localhost%3A{port}",
        data_dir=tmp / "appview",
        firehose_url=relay_url,
        firehose_relay=True,
        plc_url=plc,
        fanout_threshold=2,
        timeline_cache_ttl=0.0,
    )
    ctx = await create_appview(config)
    server = TestServer(build_appview_app(ctx, validate_output=True), host="127.0.0.1", port=port)
    await server.start_server()
    ingest = ingest_service(ctx)
    ctx.services["ingest"] = ingest
    await ingest.start()
    try:
        yield ctx
    finally:
        await server.close()


async def client_for(pds: RunningPds, handle: str) -> tuple[AsyncClient, str]:
    client = AsyncClient(base_url=f"{pds.url}/xrpc")
    made = await client.com.atproto.server.create_account(
        models.ComAtprotoServerCreateAccount.Data(
            handle=handle, email=f"{handle}@example.com", password=PASSWORD
        )
    )
    await client.login(handle, PASSWORD, fetch_bsky_profile=False)
    return client, made.did


async def eventually(check: Any, timeout: float = 45.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            try:
                result = await check()
            except Exception:  # the AppView may not have indexed it yet
                result = None
            if result:
                return result
            await asyncio.sleep(0.1)


async def test_stack_through_the_python_sdk(
    pds_factory: PdsFactory,  # noqa: F811
    relay_factory: RelayFactory,  # noqa: F811
    plc_url: str,  # noqa: F811
    tmp_path: Path,
    appview_port: int,
) -> None:
    appview_did = f"did:web:localhost%3A{appview_port}"
    pds = await pds_factory(
        plc_url=plc_url, appview_url=f"http://localhost:{appview_port}", appview_did=appview_did
    )
    relay = await relay_factory()
    host = pds.ctx.config.public_url.split("://", 1)[1]
    await relay.crawl(host)
    await asyncio.sleep(1.0)  # a new host is followed from its live head: let the relay connect
    runner = start_appview(tmp_path, appview_port, relay.url, plc_url)
    await runner.__anext__()
    try:
        alice, alice_did = await client_for(pds, "alice.test")
        bob, bob_did = await client_for(pds, "bob.test")
        carol, carol_did = await client_for(pds, "carol.test")
        # (.test handles do not resolve on this machine's DNS, so actors are named by DID, and the
        # SDK shortcuts that need client.me are replaced by its record namespaces)
        me = await eventually(lambda: bob.app.bsky.actor.get_profile({"actor": bob_did}))
        assert me.did == bob_did
        now = bob.get_current_time_iso()
        for subject in (alice_did, carol_did):
            await bob.app.bsky.graph.follow.create(
                bob_did, models.AppBskyGraphFollow.Record(subject=subject, created_at=now)
            )
        hello = await alice.send_post("hello from alice #sonet", profile_identify=alice_did)
        await carol.send_post("carol was here", profile_identify=carol_did)
        reply_ref = models.AppBskyFeedPost.ReplyRef(
            parent=models.ComAtprotoRepoStrongRef.Main(uri=hello.uri, cid=hello.cid),
            root=models.ComAtprotoRepoStrongRef.Main(uri=hello.uri, cid=hello.cid),
        )
        reply = await carol.send_post("a reply", profile_identify=carol_did, reply_to=reply_ref)
        quote = await bob.send_post(
            "quoting alice",
            profile_identify=bob_did,
            embed=models.AppBskyEmbedRecord.Main(
                record=models.ComAtprotoRepoStrongRef.Main(uri=hello.uri, cid=hello.cid)
            ),
        )
        subject = models.ComAtprotoRepoStrongRef.Main(uri=hello.uri, cid=hello.cid)
        await bob.app.bsky.feed.like.create(
            bob_did, models.AppBskyFeedLike.Record(subject=subject, created_at=now)
        )
        await bob.app.bsky.feed.repost.create(
            bob_did, models.AppBskyFeedRepost.Record(subject=subject, created_at=now)
        )

        async def timeline_has_all() -> Any:
            tl = await bob.get_timeline()
            views = {item.post.uri: item.post for item in tl.feed}
            if not {hello.uri, reply.uri, quote.uri} <= set(views):
                return None
            h = views[hello.uri]
            counts = (h.like_count, h.repost_count, h.reply_count, h.quote_count)
            return h if counts == (1, 1, 1, 1) else None

        hello_view = await eventually(timeline_has_all)
        assert hello_view.viewer.like and hello_view.viewer.repost

        thread = await bob.get_post_thread(hello.uri)
        assert [r.post.uri for r in thread.thread.replies] == [reply.uri]

        profile = await bob.get_profile(alice_did)
        assert profile.did == alice_did and profile.followers_count == 1
        assert profile.viewer.following

        async def search_finds_hello() -> Any:
            found = await bob.app.bsky.feed.search_posts({"q": "hello"})
            return found if hello.uri in {p.uri for p in found.posts} else None

        await eventually(search_finds_hello)

        async def alice_notified() -> Any:
            notes = await alice.app.bsky.notification.list_notifications()
            reasons = {n.reason for n in notes.notifications}
            return notes if {"follow", "like", "repost", "reply", "quote"} <= reasons else None

        await eventually(alice_notified)
        unread = await alice.app.bsky.notification.get_unread_count()
        assert unread.count >= 5

        # bob mutes carol: carol's posts leave bob's timeline; bob blocks alice: gone too
        await bob.mute(carol_did)

        async def carol_muted() -> Any:
            tl = await bob.get_timeline()
            return tl if all(i.post.author.did != carol_did for i in tl.feed) else None

        await eventually(carol_muted)
        await bob.app.bsky.graph.block.create(
            bob_did,
            models.AppBskyGraphBlock.Record(
                subject=alice_did, created_at=bob.get_current_time_iso()
            ),
        )

        async def alice_blocked() -> Any:
            tl = await bob.get_timeline()
            return tl if all(i.post.author.did != alice_did for i in tl.feed) else None

        await eventually(alice_blocked)
        blocked_profile = await bob.get_profile(alice_did)
        assert blocked_profile.viewer.blocking
    finally:
        await runner.aclose()
