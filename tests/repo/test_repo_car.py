"""Whole-repo CAR export and verified import."""

from __future__ import annotations

import pytest

from sonet.crypto import generate_keypair
from sonet.repo import cbor
from sonet.repo.blockstore import MemoryBlockstore
from sonet.repo.car import car_bytes, read_car
from sonet.repo.cid import CID, cid_for_cbor
from sonet.repo.commit import sign_commit
from sonet.repo.mst import MST
from sonet.repo.mst_node import Node
from sonet.repo.repo_car import InvalidRepoError, export_repo, verify_repo_car
from sonet.syntax.tid import next_tid

DID = "did:plc:abcdefghijklmnopqrstuvwx"


def make_repo(n: int = 300, kind: str = "k256"):
    key = generate_keypair(kind)  # type: ignore[arg-type]
    store = MemoryBlockstore()
    items = []
    for i in range(n):
        cid, block = cbor.encode_with_cid({"$type": "app.bsky.feed.post", "text": f"post {i}"})
        store.put(cid, block)
        items.append((f"app.bsky.feed.post/{next_tid()}", cid))
    tree = MST.from_items(items)
    store.update(tree.new_blocks())
    commit = sign_commit(DID, tree.root_cid, next_tid(), key)
    commit_cid, commit_block = commit.to_block()
    store.put(commit_cid, commit_block)
    return key, store, commit_cid, dict(items)


@pytest.mark.parametrize("kind", ["k256", "p256"])
def test_export_then_verify(kind: str) -> None:
    key, store, commit_cid, records = make_repo(kind=kind)
    data = b"".join(export_repo(commit_cid, store))
    repo = verify_repo_car(data, did=DID, key=key.public_key())
    assert repo.records == dict(sorted(records.items()))
    assert repo.commit_cid == commit_cid
    first = next(iter(repo.records))
    assert cbor.decode(repo.record_bytes(first))["$type"] == "app.bsky.feed.post"
    assert read_car(data).roots == [commit_cid]


def test_empty_repo_round_trip() -> None:
    key = generate_keypair()
    tree = MST.empty()
    store = MemoryBlockstore(tree.new_blocks())
    commit_cid, block = sign_commit(DID, tree.root_cid, next_tid(), key).to_block()
    store.put(commit_cid, block)
    repo = verify_repo_car(b"".join(export_repo(commit_cid, store)), key=key.public_key())
    assert repo.records == {}


def _rebuild(store: MemoryBlockstore, commit_cid: CID, drop: set[CID] = frozenset()) -> bytes:  # type: ignore[assignment]
    blocks = [(c, b) for c, b in store.blocks.items() if c not in drop]
    return car_bytes(commit_cid, blocks)


def test_wrong_signer_or_did_rejected() -> None:
    _, store, commit_cid, _ = make_repo(50)
    data = b"".join(export_repo(commit_cid, store))
    with pytest.raises(InvalidRepoError, match="signature"):
        verify_repo_car(data, key=generate_keypair().public_key())
    with pytest.raises(InvalidRepoError, match="expected"):
        verify_repo_car(data, did="did:plc:zzzzzzzzzzzzzzzzzzzzzzzz")


def test_missing_record_or_node_rejected() -> None:
    key, store, commit_cid, records = make_repo(200)
    record = next(iter(records.values()))
    with pytest.raises(InvalidRepoError, match="missing"):
        verify_repo_car(_rebuild(store, commit_cid, {record}), key=key.public_key())
    tree = MST.load(store, read_commit_data(store, commit_cid))
    inner = next(n.cid for n in tree.nodes() if n.cid != tree.root_cid)
    with pytest.raises(InvalidRepoError, match="missing"):
        verify_repo_car(_rebuild(store, commit_cid, {inner}), key=key.public_key())


def read_commit_data(store: MemoryBlockstore, commit_cid: CID) -> CID:
    value = cbor.decode(store.blocks[commit_cid])
    data: CID = value["data"]
    return data


def test_non_canonical_tree_rejected() -> None:
    """A tree whose keys sit at the wrong layer hashes fine but is not the canonical MST."""
    key = generate_keypair()
    leaf = cid_for_cbor(cbor.encode({"a": 1}))
    keys = [f"app.bsky.feed.like/{i:04d}" for i in range(40)]
    flat = Node(0, None, keys, [leaf] * len(keys), [None] * len(keys))  # everything in one leaf
    store = MemoryBlockstore([(flat.cid, flat.block), (leaf, cbor.encode({"a": 1}))])
    commit_cid, block = sign_commit(DID, flat.cid, next_tid(), key).to_block()
    store.put(commit_cid, block)
    with pytest.raises(InvalidRepoError, match="MST"):
        verify_repo_car(_rebuild(store, commit_cid), key=key.public_key())


def test_record_that_is_not_a_map_rejected() -> None:
    key = generate_keypair()
    bad_cid, bad_block = cbor.encode_with_cid([1, 2, 3])
    tree = MST.from_items([("app.bsky.feed.post/abc", bad_cid)])
    store = MemoryBlockstore(tree.new_blocks())
    store.put(bad_cid, bad_block)
    commit_cid, block = sign_commit(DID, tree.root_cid, next_tid(), key).to_block()
    store.put(commit_cid, block)
    with pytest.raises(InvalidRepoError, match="not a map"):
        verify_repo_car(_rebuild(store, commit_cid), key=key.public_key())


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"garbage" * 10, car_bytes(None, []), car_bytes(cid_for_cbor(b"\xa0"), [])],
)
def test_garbage_cars_rejected(data: bytes) -> None:
    with pytest.raises(InvalidRepoError):
        verify_repo_car(data)


def test_truncated_car_rejected() -> None:
    key, store, commit_cid, _ = make_repo(100)
    data = b"".join(export_repo(commit_cid, store))
    with pytest.raises(InvalidRepoError):
        verify_repo_car(data[: len(data) // 2], key=key.public_key())
