"""The official Python ``atproto`` SDK drives a real Sonet PDS end to end, unchanged.

Account creation (did:plc through a real PLC directory on loopback), login, a post with facets,
like, repost, follow, a profile with an uploaded avatar, record listing/reading/deleting, repo
export verified with our own verifier, and the firehose read with the SDK's own client.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from typing import Any

import pytest
from atproto import (
    CAR,
    AsyncClient,
    AsyncFirehoseSubscribeReposClient,
    client_utils,
    models,
    parse_subscribe_repos_message,
)

from sonet.repo.repo_car import verify_repo_car
from tests.pds.conftest import PdsFactory, RunningPds
from tests.pds.test_server_support import plc_url

__all__ = ["plc_url"]


def tiny_png() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def new_client(pds: RunningPds, handle: str, email: str) -> tuple[AsyncClient, str]:
    client = AsyncClient(base_url=f"{pds.url}/xrpc")
    created = await client.com.atproto.server.create_account(
        models.ComAtprotoServerCreateAccount.Data(
            handle=handle, email=email, password="hunter22-secret"
        )
    )
    await client.login(handle, "hunter22-secret", fetch_bsky_profile=False)
    assert client.me is None
    return client, created.did


async def test_sdk_full_flow(pds_factory: PdsFactory, plc_url: str) -> None:
    pds = await pds_factory(plc_url=plc_url)
    alice, alice_did = await new_client(pds, "alice.test", "alice@example.com")
    bob, bob_did = await new_client(pds, "bob.test", "bob@example.com")

    firehose_events: list[Any] = []
    firehose = AsyncFirehoseSubscribeReposClient(base_uri=f"{pds.url.replace('http', 'ws')}/xrpc")

    async def on_message(message: Any) -> None:
        firehose_events.append(parse_subscribe_repos_message(message))

    reader = asyncio.create_task(firehose.start(on_message))

    # profile with an avatar
    upload = await alice.upload_blob(tiny_png())
    assert upload.blob.mime_type == "image/png"
    await alice.com.atproto.repo.put_record(
        models.ComAtprotoRepoPutRecord.Data(
            repo=alice_did,
            collection="app.bsky.actor.profile",
            rkey="self",
            record=models.AppBskyActorProfile.Record(display_name="Alice", avatar=upload.blob),
        )
    )
    # a post with a mention, a link and a hashtag
    text = (
        client_utils.TextBuilder()
        .text("hello ")
        .mention("@bob.test", bob_did)
        .text(" see ")
        .link("sonet", "https://example.com/sonet")
        .text(" ")
        .tag("#atproto", "atproto")
    )
    post = await alice.send_post(text, profile_identify=alice_did)
    assert post.uri.startswith(f"at://{alice_did}/app.bsky.feed.post/")
    # (the SDK's like()/repost()/follow() shortcuts need client.me, i.e. an AppView profile;
    # its record namespaces write the same records through the PDS alone)
    now = alice.get_current_time_iso()
    subject = models.ComAtprotoRepoStrongRef.Main(uri=post.uri, cid=post.cid)
    like = await bob.app.bsky.feed.like.create(
        bob_did, models.AppBskyFeedLike.Record(subject=subject, created_at=now)
    )
    repost = await bob.app.bsky.feed.repost.create(
        bob_did, models.AppBskyFeedRepost.Record(subject=subject, created_at=now)
    )
    follow = await bob.app.bsky.graph.follow.create(
        bob_did, models.AppBskyGraphFollow.Record(subject=alice_did, created_at=now)
    )

    got = await alice.com.atproto.repo.get_record(
        {"repo": alice_did, "collection": "app.bsky.feed.post", "rkey": post.uri.rsplit("/", 1)[1]}
    )
    assert got.cid == post.cid
    assert len(got.value.facets) == 3
    listed = await bob.com.atproto.repo.list_records(
        {"repo": bob_did, "collection": "app.bsky.feed.like"}
    )
    assert [r.uri for r in listed.records] == [like.uri]
    assert await bob.app.bsky.feed.repost.delete(bob_did, repost.uri.rsplit("/", 1)[1])
    listed = await bob.com.atproto.repo.list_records(
        {"repo": bob_did, "collection": "app.bsky.feed.repost"}
    )
    assert listed.records == []
    assert follow.uri.startswith(f"at://{bob_did}/app.bsky.graph.follow/")

    # export the repo and verify it with the account's key from its DID document
    car_bytes = await alice.com.atproto.sync.get_repo({"did": alice_did})
    key = await pds.ctx.did_resolver.resolve_signing_key(alice_did, force_refresh=True)
    repo = verify_repo_car(car_bytes, did=alice_did, key=key)
    assert set(repo.records) >= {"app.bsky.actor.profile/self", post.uri.split("/", 3)[3]}
    sdk_car = CAR.from_bytes(car_bytes)
    assert str(sdk_car.root) == repo.commit_cid.encode()

    # the firehose, read by the SDK's own client, carries every commit
    for _ in range(100):
        commits = [
            e for e in firehose_events if isinstance(e, models.ComAtprotoSyncSubscribeRepos.Commit)
        ]
        if len(commits) >= 6:
            break
        await asyncio.sleep(0.05)
    await firehose.stop()
    await asyncio.wait_for(reader, 10)
    paths = {op.path for c in commits for op in c.ops}
    assert "app.bsky.actor.profile/self" in paths
    assert post.uri.split("/", 3)[3] in paths
    for commit in commits:
        blocks = CAR.from_bytes(commit.blocks).blocks
        for op in commit.ops:
            if op.action == "create":
                assert op.cid in blocks


async def test_sdk_errors_are_typed(pds_factory: PdsFactory, plc_url: str) -> None:
    from atproto.exceptions import BadRequestError, UnauthorizedError

    pds = await pds_factory(plc_url=plc_url)
    alice, _ = await new_client(pds, "alice.test", "alice@example.com")
    with pytest.raises(BadRequestError) as exc:
        await alice.send_post("x" * 301, profile_identify="alice.test")
    assert exc.value.response.content.error == "InvalidRequest"
    stranger = AsyncClient(base_url=f"{pds.url}/xrpc")
    with pytest.raises(UnauthorizedError):
        await stranger.login("alice.test", "wrong-password", fetch_bsky_profile=False)
    with pytest.raises(BadRequestError) as exc:
        await stranger.com.atproto.server.create_account(
            models.ComAtprotoServerCreateAccount.Data(
                handle="alice.test", email="x@example.com", password="pw-long-enough"
            )
        )
    assert exc.value.response.content.error in ("HandleNotAvailable", "InvalidHandle")
