"""Hypothesis properties of ledger.signing.merkle against a naive recursive RFC 9162 model."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.signing.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    ProofError,
    append_leaves,
    compact_range_at,
    consistency_proof,
    decode_compact_range,
    encode_compact_range,
    inclusion_proof,
    leaf_hash,
    root_at,
    root_from_compact_range,
    verify_consistency,
    verify_inclusion,
)


class NaiveTree:
    """RFC 9162 §2.1 definitions (MTH, PATH, SUBPROOF) over leaf ranges, memoised per range."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.leaves = list(leaf_hashes)
        self.mth = lru_cache(maxsize=None)(self._mth)

    @staticmethod
    def split(n: int) -> int:
        k = 1
        while k * 2 < n:
            k *= 2
        return k

    def _mth(self, lo: int, hi: int) -> bytes:
        if hi == lo:
            return hashlib.sha256(b"").digest()
        if hi - lo == 1:
            return self.leaves[lo]
        k = self.split(hi - lo)
        return hashlib.sha256(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi)).digest()

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        if hi - lo == 1:
            return []
        k = self.split(hi - lo)
        if m < k:
            return self.path(m, lo, lo + k) + [self.mth(lo + k, hi)]
        return self.path(m - k, lo + k, hi) + [self.mth(lo, lo + k)]

    def subproof(self, m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
        if m == hi - lo:
            return [] if whole else [self.mth(lo, hi)]
        k = self.split(hi - lo)
        if m <= k:
            return self.subproof(m, lo, lo + k, whole) + [self.mth(lo + k, hi)]
        return self.subproof(m - k, lo + k, hi, False) + [self.mth(lo, lo + k)]


def make_leaves(size: int, salt: bytes) -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(size)]


def build(leaves: Sequence[bytes]) -> MemoryNodeStore:
    store = MemoryNodeStore()
    store.put_nodes(append_leaves(0, [], leaves)[2])
    return store


sizes = st.integers(min_value=0, max_value=300)
salts = st.binary(max_size=8)


@settings(max_examples=100, deadline=None)
@given(size=sizes, salt=salts, data=st.data())
def test_roots_and_proofs_match_the_rfc_definitions(size: int, salt: bytes, data: st.DataObject) -> None:
    leaves = make_leaves(size, salt)
    naive = NaiveTree(leaves)
    store = build(leaves)
    assert root_at(store, size) == naive.mth(0, size)
    if size == 0:
        assert root_at(store, 0) == EMPTY_ROOT
        return
    for _ in range(8):
        tree_size = data.draw(st.integers(1, size), label="tree_size")
        index = data.draw(st.integers(0, tree_size - 1), label="index")
        root = naive.mth(0, tree_size)
        assert root_at(store, tree_size) == root
        proof = inclusion_proof(store, index, tree_size)
        assert proof == naive.path(index, 0, tree_size)
        verify_inclusion(leaves[index], index, tree_size, proof, root)
        size1 = data.draw(st.integers(0, tree_size), label="size1")
        proof = consistency_proof(store, size1, tree_size)
        assert proof == ([] if size1 == 0 else naive.subproof(size1, 0, tree_size, True))
        verify_consistency(size1, tree_size, proof, naive.mth(0, size1), root)


@settings(max_examples=100, deadline=None)
@given(size=sizes, salt=salts, cuts=st.lists(st.integers(0, 300), max_size=12))
def test_incremental_append_equals_one_shot(size: int, salt: bytes, cuts: list[int]) -> None:
    leaves = make_leaves(size, salt)
    full_size, full_peaks, full_nodes = append_leaves(0, [], leaves)
    tree_size, peaks, nodes = 0, list[bytes](), dict[tuple[int, int], bytes]()
    for cut in sorted(min(cut, size) for cut in cuts) + [size]:
        stored = decode_compact_range(tree_size, encode_compact_range(peaks))
        tree_size, peaks, new_nodes = append_leaves(tree_size, stored, leaves[tree_size:cut])
        assert not new_nodes.keys() & nodes.keys()
        nodes.update(new_nodes)
        assert root_from_compact_range(tree_size, peaks) == NaiveTree(leaves).mth(0, tree_size)
    assert (tree_size, peaks, nodes) == (full_size, full_peaks, full_nodes)


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 300), salt=salts, data=st.data())
def test_compact_range_at_any_size_resumes_appends(size: int, salt: bytes, data: st.DataObject) -> None:
    leaves = make_leaves(size, salt)
    store = build(leaves)
    old_size = data.draw(st.integers(0, size), label="old_size")
    peaks = compact_range_at(store, old_size)
    new_size, new_peaks, _ = append_leaves(old_size, peaks, leaves[old_size:])
    assert new_size == size
    assert root_from_compact_range(size, new_peaks) == root_at(store, size)


def _flip(value: bytes, bit: int) -> bytes:
    data = bytearray(value)
    data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


@settings(max_examples=300, deadline=None)
@given(size=st.integers(2, 300), salt=salts, data=st.data())
def test_mutated_inclusion_proofs_are_rejected(size: int, salt: bytes, data: st.DataObject) -> None:
    leaves = make_leaves(size, salt)
    store = build(leaves)
    tree_size = data.draw(st.integers(2, size), label="tree_size")
    index = data.draw(st.integers(0, tree_size - 1), label="index")
    proof = inclusion_proof(store, index, tree_size)
    root = root_at(store, tree_size)
    leaf = leaves[index]
    kind = data.draw(st.sampled_from(["flip", "index", "size", "truncate", "extend", "swap", "leaf", "root"]))
    if kind == "flip":
        i = data.draw(st.integers(0, len(proof) - 1))
        proof[i] = _flip(proof[i], data.draw(st.integers(0, 255)))
    elif kind == "index":
        # Same size, any other index; a wrong position is never accepted for the right size.
        index = data.draw(st.integers(0, tree_size - 1).filter(lambda other: other != index))
    elif kind == "size":
        # Any other size, checked against that size's true root.
        tree_size = data.draw(st.integers(index + 1, size).filter(lambda other: other != tree_size))
        root = root_at(store, tree_size)
    elif kind == "truncate":
        del proof[data.draw(st.integers(0, len(proof) - 1))]
    elif kind == "extend":
        proof.insert(data.draw(st.integers(0, len(proof))), data.draw(st.binary(min_size=32, max_size=32)))
    elif kind == "swap":
        i = data.draw(st.integers(0, len(proof) - 1))
        j = data.draw(st.integers(0, len(proof) - 1).filter(lambda j: proof[j] != proof[i]))
        proof[i], proof[j] = proof[j], proof[i]
    elif kind == "leaf":
        leaf = data.draw(st.sampled_from([other for other in leaves if other != leaf]))
    else:
        root = data.draw(st.sampled_from([root_at(store, n) for n in range(size + 1) if n != tree_size]))
    try:
        verify_inclusion(leaf, index, tree_size, proof, root)
    except ProofError:
        return
    raise AssertionError(f"mutation {kind!r} was accepted")


@settings(max_examples=300, deadline=None)
@given(size=st.integers(2, 300), salt=salts, data=st.data())
def test_mutated_consistency_proofs_are_rejected(size: int, salt: bytes, data: st.DataObject) -> None:
    leaves = make_leaves(size, salt)
    store = build(leaves)
    size2 = data.draw(st.integers(2, size), label="size2")
    size1 = data.draw(st.integers(1, size2 - 1), label="size1")
    proof = consistency_proof(store, size1, size2)
    root1, root2 = root_at(store, size1), root_at(store, size2)
    kind = data.draw(st.sampled_from(["flip", "sizes", "truncate", "extend", "swap", "roots", "root1", "root2"]))
    if kind == "flip":
        i = data.draw(st.integers(0, len(proof) - 1))
        proof[i] = _flip(proof[i], data.draw(st.integers(0, 255)))
    elif kind == "sizes":
        new1 = data.draw(st.integers(0, size))
        new2 = data.draw(st.integers(new1, size).filter(lambda new2: (new1, new2) != (size1, size2)))
        size1, size2 = new1, new2
        root1, root2 = root_at(store, size1), root_at(store, size2)
    elif kind == "truncate":
        del proof[data.draw(st.integers(0, len(proof) - 1))]
    elif kind == "extend":
        proof.insert(data.draw(st.integers(0, len(proof))), data.draw(st.binary(min_size=32, max_size=32)))
    elif kind == "swap":
        if len(set(proof)) < 2:
            proof.append(root1)
        else:
            i = data.draw(st.integers(0, len(proof) - 1))
            j = data.draw(st.integers(0, len(proof) - 1).filter(lambda j: proof[j] != proof[i]))
            proof[i], proof[j] = proof[j], proof[i]
    elif kind == "roots":
        root1, root2 = root2, root1
    elif kind == "root1":
        root1 = data.draw(st.sampled_from([root_at(store, n) for n in range(size + 1) if n != size1]))
    else:
        root2 = data.draw(st.sampled_from([root_at(store, n) for n in range(size + 1) if n != size2]))
    try:
        verify_consistency(size1, size2, proof, root1, root2)
    except ProofError:
        return
    raise AssertionError(f"mutation {kind!r} was accepted")


@given(st.integers(1, 200), st.data())
def test_batched_inclusion_proofs_equal_single_ones(size: int, data: st.DataObject) -> None:
    from ledger.signing.merkle import MemoryNodeStore, append_leaves, inclusion_proof, inclusion_proofs, leaf_hash

    store = MemoryNodeStore()
    _, _, nodes = append_leaves(0, [], [leaf_hash(bytes([i % 256, i // 256])) for i in range(size)])
    store.put_nodes(nodes)
    indexes = data.draw(st.lists(st.integers(0, size - 1), max_size=20, unique=True))
    assert inclusion_proofs(store, indexes, size) == {i: inclusion_proof(store, i, size) for i in indexes}
