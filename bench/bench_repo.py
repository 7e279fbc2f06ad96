"""Repository core hot paths: DAG-CBOR + CID, MST nodes, MST build, repo verify, commit proofs.

Run: ``python bench/bench_repo.py``. Goals (issue 2): 100k-record MST build < 2 s; full 100k
repo verification >= 50k records/s; firehose commit-proof verification >= 5k/s.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import max_rss_mib, measure, median_time, peak_memory
from sonet.crypto import generate_keypair
from sonet.repo import cbor
from sonet.repo.blockstore import MemoryBlockstore
from sonet.repo.car import car_bytes, read_car
from sonet.repo.cid import CID, cid_for_cbor
from sonet.repo.commit import decode_commit, sign_commit, verify_commit
from sonet.repo.mst import MST
from sonet.repo.mst_node import decode_node
from sonet.repo.mst_proof import RepoOp, commit_proof_blocks, verify_commit_proof
from sonet.repo.repo_car import export_repo, verify_repo_car
from sonet.syntax.tid import TidClock

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
POST = {
    "$type": "app.bsky.feed.post",
    "text": "Hello from Sonet! Testing the write path with a realistic post #atproto",
    "createdAt": "2026-11-22T03:00:00.000Z",
    "langs": ["en"],
    "facets": [
        {
            "index": {"byteStart": 64, "byteEnd": 72},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "atproto"}],
        }
    ],
}


def make_repo(n: int) -> tuple[MemoryBlockstore, MST, list[str]]:
    clock = TidClock()
    store = MemoryBlockstore()
    items: list[tuple[str, CID]] = []
    for i in range(n):
        cid, block = cbor.encode_with_cid({**POST, "text": f"post {i}"})
        store.put(cid, block)
        items.append((f"app.bsky.feed.post/{clock.next()}", cid))
    tree = MST.from_items(items)
    store.update(tree.new_blocks())
    return store, MST.load(store, tree.root_cid), [k for k, _ in items]


def bench_codec() -> None:
    block = cbor.encode(POST)
    measure("post encode+cid", lambda: cid_for_cbor(cbor.encode(POST)), batch=1)
    measure("post decode", lambda: cbor.decode(block))
    _store, tree, _ = make_repo(2_000)
    node = next(n for n in tree.nodes() if len(n.keys) >= 4)
    data = node.to_data()
    measure("mst node encode", lambda: cbor.encode(data))
    measure("mst node decode+check", lambda: decode_node(node.cid, node.block, node.layer))


def bench_build() -> None:
    clock = TidClock()
    leaf = cid_for_cbor(cbor.encode(POST))
    items = [(f"app.bsky.feed.post/{clock.next()}", leaf) for _ in range(100_000)]

    def build() -> CID:
        return MST.from_items(items).root_cid

    median_time("mst build 100k (with all CIDs)", build, items=100_000)
    peak_memory("mst build 100k", build)


def bench_verify_repo() -> None:
    key = generate_keypair()
    store, tree, _ = make_repo(100_000)
    commit_cid, commit_block = sign_commit(DID, tree.root_cid, TidClock().next(), key).to_block()
    store.put(commit_cid, commit_block)
    car = median_time(
        "export 100k repo CAR", lambda: b"".join(export_repo(commit_cid, store)), items=100_000
    )
    print(f"  CAR size {len(car) / 2**20:,.1f} MiB")
    median_time(
        "verify 100k repo CAR (hashes, MST, records, signature)",
        lambda: verify_repo_car(car, did=DID, key=key.public_key()),
        items=100_000,
    )


def bench_commit_proofs() -> None:
    """A relay's view: decode a firehose-style commit CAR slice, check signature and proof."""
    key = generate_keypair()
    pub = key.public_key()
    store, tree, keys = make_repo(10_000)
    rng = random.Random(1)
    clock = TidClock()
    commits = []
    for _ in range(200):
        prev_root = tree.root_cid
        path = f"app.bsky.feed.post/{clock.next()}"
        cid, block = cbor.encode_with_cid({**POST, "text": path})
        if rng.random() < 0.8:
            op = RepoOp("create", path, cid)
            new = tree.put(path, cid)
        else:
            victim = rng.choice(keys)
            op = RepoOp("delete", victim, None, tree.get(victim))
            new = tree.delete(victim)
            keys.remove(victim)
        store.update(new.new_blocks())
        store.put(cid, block)
        new = MST.load(store, new.root_cid)
        commit_cid, commit_block = sign_commit(DID, new.root_cid, clock.next(), key).to_block()
        proof = commit_proof_blocks(store, new.root_cid, [op])
        slice_blocks = [(commit_cid, commit_block), *proof.items()]
        if op.action == "create":
            slice_blocks.append((cid, block))
        commits.append((car_bytes(commit_cid, slice_blocks), op, prev_root))
        tree = new
    print(f"  mean proof slice {sum(len(c[0]) for c in commits) / len(commits):,.0f} bytes")
    index = 0

    def verify_one(check_signature: bool) -> None:
        nonlocal index
        car_data, op, prev_root = commits[index % len(commits)]
        index += 1
        car = read_car(car_data, max_blocks=1000)
        commit = decode_commit(car.blocks[car.root])
        if check_signature:
            assert verify_commit(commit, pub)
        verify_commit_proof(MemoryBlockstore(car.blocks), commit.data, [op], prev_root)

    measure(
        "firehose commit proof (CAR slice + sync 1.1 inversion)",
        lambda: verify_one(False),
        seconds=3.0,
    )
    measure(
        "firehose commit verify (CAR slice + signature + sync 1.1 inversion)",
        lambda: verify_one(True),
        seconds=3.0,
    )

    def write_one() -> None:
        path = f"app.bsky.feed.post/{clock.next()}"
        new = tree.put(path, commits[0][1].cid or tree.root_cid)
        list(new.new_blocks())

    measure("mst put on 10k tree + new blocks", write_one)


def main() -> None:
    bench_codec()
    bench_build()
    bench_verify_repo()
    bench_commit_proofs()
    print(f"max RSS {max_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
