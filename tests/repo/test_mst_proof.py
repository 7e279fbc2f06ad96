"""Sync 1.1 commit proofs and MST diffs, including the reference implementation's proof cases."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sonet.repo.blockstore import MemoryBlockstore, RecordingBlockSource
from sonet.repo.cid import CID, cid_for_cbor, parse_cid
from sonet.repo.mst import MST
from sonet.repo.mst_diff import diff_trees, removed_nodes
from sonet.repo.mst_proof import (
    ProofError,
    RepoOp,
    commit_proof_blocks,
    key_proof_blocks,
    verify_commit_proof,
)

LEAF = parse_cid("bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454")

# (keys before, added, deleted, root before, root after, blocks the reference puts in the proof):
# the cases of the reference implementation's commit-proof tests.
PROOF_CASES = {
    "two deep split": (
        ["A0/374913", "B1/986427", "C0/451630", "E0/670489", "F1/085263", "G0/765327"],
        ["D2/269196"],
        [],
        "bafyreicraprx2xwnico4tuqir3ozsxpz46qkcpox3obf5bagicqwurghpy",
        "bafyreihvay6pazw3dfa47u5d2tn3rd6pa57sr37bo5bqyvjuqc73ib65my",
        [
            "bafyreieazvzmba35p4phksumwfoklwe5o4ncmo7otud74idcyv4orrbzxi",
            "bafyreie4227qpa4vbtbpnsvuhp322b776vjuhxsidi5hxp2gawumr4m3de",
            "bafyreid44jgimksqqdratyste2moqu6zo4h6co2pknjppfoiplsqxtuxae",
            "bafyreiaerlvitye7fjjwodkshtbqqdsmfsdjtnlz4vs6y4trnddshsmd5a",
            "bafyreihvay6pazw3dfa47u5d2tn3rd6pa57sr37bo5bqyvjuqc73ib65my",
        ],
    ),
    "two deep leafless split": (
        ["A0/374913", "B0/601692", "D0/952776", "E0/670489"],
        ["C2/014073"],
        [],
        "bafyreialm5sgf7pijawbschsjpdevid5rss5ip3d4n4w6cc4mhu53sfl4i",
        "bafyreibxh4iztp5l2yshz3ectg2qjpeyprpw2gogao3pvceowpq3k3thya",
        [
            "bafyreih7dxytqtcjv3cfia3fi3wxofeip62teqkpynnkxisxqwfchfb4bu",
            "bafyreiaqbymlnvpklmogx75gozjl3y73gva43jbgwcrqu2pp5g5ejou5vm",
            "bafyreicfh3st5ghtnoqyyvznjv4lhfnvl7qsndempx35i4tcmoxakqbgrm",
            "bafyreieyjrrai6igjceyxzkajrxgxz37da2eufb33anvesb4ev6yzztauu",
            "bafyreibxh4iztp5l2yshz3ectg2qjpeyprpw2gogao3pvceowpq3k3thya",
        ],
    ),
    "add on edge with neighbor two layers down": (
        ["A0/374913", "B2/827649", "C0/451630"],
        ["D2/269196"],
        [],
        "bafyreigc6ay2qwfk7kuevvrczummpd64nknfo4yxpaooknfymzyb7u3ntq",
        "bafyreign6kxoll35r5f2ske6hjx7vg56aw3jn6r5hcopgrepzafpvohr2a",
        [
            "bafyreieazvzmba35p4phksumwfoklwe5o4ncmo7otud74idcyv4orrbzxi",
            "bafyreidicvcjgrpm5bmhm3ndh2ysqfhgzk4chwn3m4kuvwkenfusspb4uy",
            "bafyreign6kxoll35r5f2ske6hjx7vg56aw3jn6r5hcopgrepzafpvohr2a",
        ],
    ),
    "merge and split in multi-op commit": (
        ["A0/374913", "B2/827649", "D2/269196", "E0/670489"],
        ["C2/014073"],
        ["B2/827649", "D2/269196"],
        "bafyreiceld4icym4qjmdcn3dfgtxt7t66hdgyhvigessgmkvb56dx6amgi",
        "bafyreigkalika3taqauapfha556lo36zzcjoiifny5xeru6yis3nxw5ruq",
        [
            "bafyreid44jgimksqqdratyste2moqu6zo4h6co2pknjppfoiplsqxtuxae",
            "bafyreihytu6onh476trave25zuo63ziebkeong2755sc5nmf55uzdawgt4",
            "bafyreigkalika3taqauapfha556lo36zzcjoiifny5xeru6yis3nxw5ruq",
            "bafyreidnnkrdkcaswbflgtdsxm7nzs7p5f2rdous6wrlupzstuwqu5pfgm",
            "bafyreia2kq243hqq3volwlzkbzzphoeqauk54sc5h7vgogq4ei5fjizxvy",
        ],
    ),
    "complex multi-op commit": (
        ["B0/601692", "C2/014073", "D0/952776", "E2/819540", "F0/697858", "H0/131238"],
        ["A2/827942", "G2/611528"],
        ["C2/014073"],
        "bafyreigr3plnts7dax6yokvinbhcqpyicdfgg6npvvyx6okc5jo55slfqi",
        "bafyreiftrcrbhrwmi37u4egedlg56gk3jeh3tvmqvwgowoifuklfysyx54",
        [
            "bafyreih62n3gjbzzvlicuggpfydyzrp3ssyx7hdgtltd3sct3ribm3u73e",
            "bafyreihrjhuoynjvgteuefin5vwnqmupyfzvmytdobpstqt3mbawgw5qhm",
            "bafyreibevzst4gzkxo263syohlmq3lpxdvpjhlpyqx2ay3moh43lifydca",
            "bafyreifsdd7dv2neal7zjhyrsvndkaocelqlpgfxwo4utoq2g77klih37e",
            "bafyreid2wwyroodj2lxx2obikac74q77lsn6vqkoetlqqwwnr3criwlcvy",
            "bafyreie55b224oljhykpsxdjq4ajn2ysksud7qm347s6kn2ei6a775faum",
            "bafyreiftrcrbhrwmi37u4egedlg56gk3jeh3tvmqvwgowoifuklfysyx54",
        ],
    ),
    "split with earlier leaves on same layer": (
        [
            "app.bsky.feed.post/3lo3kqqljmfe2",
            "app.bsky.feed.post/3log4547dm6h2",
            "app.bsky.feed.post/3log45inogon2",
            "app.bsky.feed.post/3logaodrh74d2",
            "app.bsky.feed.post/3logteazog2n2",
            "app.bsky.feed.post/3lon5cqsbwrj2",
            "app.bsky.feed.repost/3l6sjhvqonco2",
        ],
        ["app.bsky.feed.post/3lon5dzeaihj2"],
        [],
        "bafyreigfcsro2up7qi7l3rxdpg7n6gjtteotkmgrrqztl5oy2tf4ncl4ji",
        "bafyreig33hsjiplaixvmccy65n7rn3in5nsbtcittzx6k3w5wjfhk2sg3a",
        [
            "bafyreig33hsjiplaixvmccy65n7rn3in5nsbtcittzx6k3w5wjfhk2sg3a",
            "bafyreih2rhjm3apcghihwfojv2em7noqkgt5qyjcnxux7do674m464oc3m",
            "bafyreiajhswkduap4zvqvfhth3skdgckmk2eb5gow7vv3gvj45f4fqwmxm",
        ],
    ),
}


def _ops(adds: list[str], dels: list[str], new: CID = LEAF, old: CID = LEAF) -> list[RepoOp]:
    return [RepoOp("create", k, new) for k in adds] + [RepoOp("delete", k, None, old) for k in dels]


@pytest.mark.parametrize("name", list(PROOF_CASES))
def test_reference_proof_cases(name: str) -> None:
    keys, adds, dels, before, after, reference_blocks = PROOF_CASES[name]
    tree = MST.from_items((k, LEAF) for k in keys)
    assert tree.root_cid.encode() == before
    store = MemoryBlockstore(tree.new_blocks())
    new = MST.load(store, tree.root_cid)
    for key in adds:
        new = new.put(key, LEAF)
    for key in dels:
        new = new.delete(key)
    assert new.root_cid.encode() == after
    store.update(new.new_blocks())
    ops = _ops(adds, dels)
    proof = commit_proof_blocks(store, new.root_cid, ops)
    if reference_blocks is not None:
        # what the reference sends is enough for us, and we send at least what it sends
        assert {parse_cid(c) for c in reference_blocks} <= set(proof)
        ref_only = MemoryBlockstore(
            {parse_cid(c): store.blocks[parse_cid(c)] for c in reference_blocks}
        )
        verify_commit_proof(ref_only, new.root_cid, ops, parse_cid(before))
    for order in itertools.permutations(ops):
        verify_commit_proof(MemoryBlockstore(proof), new.root_cid, list(order), parse_cid(before))


def _commit(keys: list[str], adds: list[str], dels: list[str], ups: list[str]):
    tree = MST.from_items((k, LEAF) for k in keys)
    store = MemoryBlockstore(tree.new_blocks())
    new = MST.load(store, tree.root_cid)
    newer = cid_for_cbor(b"\x02")
    ops = _ops(adds, dels, new=newer) + [RepoOp("update", k, newer, LEAF) for k in ups]
    for op in ops:
        new = new.delete(op.path) if op.action == "delete" else new.put(op.path, newer)
    store.update(new.new_blocks())
    return tree, new, store, ops


key_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyz234567", min_size=1, max_size=10)


@settings(max_examples=60, deadline=None)
@given(
    existing=st.lists(key_text, min_size=1, max_size=80, unique=True),
    fresh=st.lists(key_text.map(lambda s: s + "-new"), max_size=6, unique=True),
    data=st.data(),
)
def test_random_multi_op_proofs_verify_and_tampering_fails(
    existing: list[str], fresh: list[str], data: st.DataObject
) -> None:
    keys = [f"app.bsky.feed.like/{k}" for k in existing]
    adds = [f"app.bsky.feed.like/{k}" for k in fresh]
    touched = data.draw(st.lists(st.sampled_from(keys), unique=True, max_size=6))
    split = data.draw(st.integers(0, len(touched)))
    dels, ups = touched[:split], touched[split:]
    old, new, store, ops = _commit(keys, adds, dels, ups)
    proof = commit_proof_blocks(store, new.root_cid, ops)
    verify_commit_proof(MemoryBlockstore(proof), new.root_cid, ops, old.root_cid)
    if not ops:
        return
    # a proof against the wrong prevData, a wrong op, or with a block missing must fail
    with pytest.raises(ProofError):
        verify_commit_proof(MemoryBlockstore(proof), new.root_cid, ops, cid_for_cbor(b"\x03"))
    first = ops[0]
    forged = [RepoOp(first.action, first.path, first.cid, cid_for_cbor(b"\x04")), *ops[1:]]
    if first.action != "create":
        with pytest.raises(ProofError):
            verify_commit_proof(MemoryBlockstore(proof), new.root_cid, forged, old.root_cid)
    with pytest.raises(ProofError):
        verify_commit_proof(MemoryBlockstore(proof), new.root_cid, ops[1:], old.root_cid)
    recorder = RecordingBlockSource(MemoryBlockstore(proof))
    verify_commit_proof(recorder, new.root_cid, ops, old.root_cid)
    needed = recorder.read
    if len(needed) > 1:
        victim = random.Random(0).choice(sorted(needed, key=bytes))
        partial = {c: b for c, b in proof.items() if c != victim}
        with pytest.raises(ProofError):
            verify_commit_proof(MemoryBlockstore(partial), new.root_cid, ops, old.root_cid)


def test_duplicate_ops_rejected() -> None:
    old, new, store, ops = _commit(["coll/a", "coll/b"], ["coll/c"], [], [])
    with pytest.raises(ProofError):
        verify_commit_proof(store, new.root_cid, ops + ops, old.root_cid)


def test_key_proof_covers_presence_and_absence() -> None:
    tree = MST.from_items((f"coll/{i:04d}", LEAF) for i in range(1000))
    store = MemoryBlockstore(tree.new_blocks())
    for key in ("coll/0500", "coll/0500x"):
        proof = key_proof_blocks(store, tree.root_cid, key)
        assert MST.load(MemoryBlockstore(proof), tree.root_cid).get(key) == tree.get(key)
        assert len(proof) <= tree.layer + 1


@settings(max_examples=50, deadline=None)
@given(
    before=st.dictionaries(key_text, st.integers(0, 3), max_size=60),
    after=st.dictionaries(key_text, st.integers(0, 3), max_size=60),
)
def test_diff_applied_to_old_gives_new(before: dict[str, int], after: dict[str, int]) -> None:
    def cid(n: int) -> CID:
        return cid_for_cbor(bytes([n]))

    old = MST.from_items((f"coll/{k}", cid(v)) for k, v in before.items())
    new = MST.from_items((f"coll/{k}", cid(v)) for k, v in after.items())
    store = MemoryBlockstore(old.new_blocks())
    old = MST.load(store, old.root_cid)
    d = diff_trees(old, new)
    patched = old
    for key in d.deletes:
        patched = patched.delete(key)
    for key, value in d.creates.items():
        patched = patched.put(key, value)
    for key, (_, value) in d.updates.items():
        patched = patched.put(key, value)
    assert patched.root_cid == new.root_cid
    new_cids = {c for c, _ in new.new_blocks()}
    old_cids = {c for c, _ in MST.from_items(old.items()).new_blocks()}
    assert set(d.new_nodes) == new_cids - old_cids
    assert d.removed_nodes == old_cids - new_cids


@settings(max_examples=50, deadline=None)
@given(
    before=st.dictionaries(key_text, st.integers(0, 3), max_size=60),
    writes=st.lists(st.tuples(key_text, st.integers(-1, 3)), max_size=8),
    persist=st.booleans(),
)
def test_removed_nodes_of_derived_tree(
    before: dict[str, int], writes: list[tuple[str, int]], persist: bool
) -> None:
    """Nodes a put/delete history drops are exactly the old nodes the new tree lacks."""

    def cid(n: int) -> CID:
        return cid_for_cbor(bytes([n]))

    built = MST.from_items((f"coll/{k}", cid(v)) for k, v in before.items())
    store = MemoryBlockstore(built.new_blocks())
    old = MST.load(store, built.root_cid) if persist else built
    new = old
    for key, value in writes:
        if value >= 0:
            new = new.put(f"coll/{key}", cid(value))
        elif f"coll/{key}" in new:
            new = new.delete(f"coll/{key}")
    new_cids = {c for c, _ in MST.from_items(new.items()).new_blocks()}
    old_cids = {c for c, _ in MST.from_items(old.items()).new_blocks()}
    assert removed_nodes(old, new) == old_cids - new_cids
