"""RFC 9162 (RFC 6962) Merkle tree hashing, proofs and strict proof verifiers.

Hashing: ``leaf = SHA-256(0x00 ‖ data)``, ``node = SHA-256(0x01 ‖ left ‖ right)``, the empty tree's root is
``SHA-256("")``; the tree over leaves ``[0, n)`` splits at the largest power of two below ``n``.

Storage model: every *complete* (perfect) subtree is a node addressed by ``(level, index)``; level 0 holds the
leaf hashes and node ``(l, i)`` covers leaves ``[i·2^l, (i+1)·2^l)``. A complete node never changes once written,
so a store only ever inserts. The state needed to append is the *compact range*: the hashes of the perfect
subtrees along the right edge (one per set bit of the tree size), largest first. ``append_leaves`` returns every
node it completed so the caller can persist them in the same transaction as the new size and compact range.

Proofs for any historical size ``<=`` the stored size are composed from complete nodes only: a subtree that is
incomplete at that size (the right edge) is re-hashed from the complete nodes it is made of. Each proof fetches
all the nodes it needs with one ``NodeReader.get_nodes`` call.

Verifiers follow transparency-dev/merkle ``proof/verify.go`` and reject, with a ``ProofError`` that says why:
``index >= size``, a wrong proof length, a hash that is not 32 bytes, ``size2 < size1``, a proof where none is
expected (``size1 == size2``, ``size1 == 0``), an empty proof where one is needed, and any root mismatch.
Deliberately stricter than verify.go: roots must be 32 bytes too, and a tree of size 0 must have the root
``EMPTY_ROOT`` (verify.go treats that root as "don't care"). As in every RFC 6962 verifier, a proof only means
something for a (size, root) pair the log has committed to (a signed checkpoint): some proofs for one size also
hash to the same root under another size, e.g. index 0 of size 3 and of size 4.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Protocol

__all__ = [
    "EMPTY_ROOT",
    "HASH_BYTES",
    "MAX_TREE_SIZE",
    "MemoryNodeStore",
    "MissingNodeError",
    "NodeKey",
    "NodeReader",
    "ProofError",
    "append_leaves",
    "compact_range_at",
    "consistency_proof",
    "decode_compact_range",
    "encode_compact_range",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_at",
    "root_from_compact_range",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]

HASH_BYTES = 32
MAX_TREE_SIZE = 2**64 - 1  # RFC 9162 sizes and indexes are uint64
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

NodeKey = tuple[int, int]
"""``(level, index)`` of a complete subtree; level 0 = leaves."""


class ProofError(ValueError):
    """A Merkle proof, or the parameters it is checked against, did not verify."""


class MissingNodeError(LookupError):
    """The node store lacks nodes a proof or root needs (size beyond the stored tree, or a lost write)."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 ‖ data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


# --------------------------------------------------------------------------------------------------- node stores


class NodeReader(Protocol):
    """Read access to complete nodes, batched so a SQL store can answer a whole proof with one query."""

    def get_nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        """The hashes of those of ``keys`` that exist; absent keys are simply left out."""
        ...


class MemoryNodeStore:
    """An in-memory, insert-only ``NodeReader``."""

    __slots__ = ("_nodes",)

    def __init__(self) -> None:
        self._nodes: dict[NodeKey, bytes] = {}

    def get_nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        """The stored hashes of ``keys`` (missing keys left out)."""
        nodes = self._nodes
        return {key: nodes[key] for key in keys if key in nodes}

    def put_nodes(self, mapping: Mapping[NodeKey, bytes]) -> None:
        """Insert nodes; rewriting a node with a different hash raises ``ValueError`` (nodes are immutable)."""
        nodes = self._nodes
        for key, value in mapping.items():
            old = nodes.get(key)
            if old is not None and old != value:
                raise ValueError(f"node {key} already stored with a different hash")
        nodes.update(mapping)

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, key: object) -> bool:
        return key in self._nodes


# ------------------------------------------------------------------------------------------- compact range, append


def _check_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0 or value > MAX_TREE_SIZE:
        raise ValueError(f"{name} {value} is outside [0, 2^64-1]")


def _check_hash(name: str, value: object) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes, not {type(value).__name__}")
    if len(value) != HASH_BYTES:
        raise ValueError(f"{name} has {len(value)} bytes, want {HASH_BYTES}")
    return value


def _check_compact_range(size: int, peaks: Sequence[bytes]) -> None:
    _check_size("size", size)
    want = size.bit_count()
    if len(peaks) != want:
        raise ValueError(f"a compact range for size {size} has {want} hashes, got {len(peaks)}")
    for i, peak in enumerate(peaks):
        _check_hash(f"compact range hash {i}", peak)


def encode_compact_range(peaks: Sequence[bytes]) -> bytes:
    """Serialise a compact range: its hashes concatenated, largest subtree first."""
    for i, peak in enumerate(peaks):
        _check_hash(f"compact range hash {i}", peak)
    return b"".join(peaks)


def decode_compact_range(size: int, data: bytes) -> list[bytes]:
    """Parse ``encode_compact_range`` output for a tree of ``size`` leaves (length checked)."""
    _check_size("size", size)
    want = size.bit_count() * HASH_BYTES
    if len(data) != want:
        raise ValueError(f"a compact range for size {size} has {want} bytes, got {len(data)}")
    return [bytes(data[i : i + HASH_BYTES]) for i in range(0, want, HASH_BYTES)]


def append_leaves(
    size: int, peaks: Sequence[bytes], leaf_hashes: Sequence[bytes]
) -> tuple[int, list[bytes], dict[NodeKey, bytes]]:
    """Append leaf hashes to a tree of ``size`` leaves with compact range ``peaks``.

    Returns ``(new_size, new_peaks, new_nodes)``; ``new_nodes`` holds every node completed by the append,
    leaves (level 0) included. Amortised O(1) hashes per leaf.
    """
    _check_compact_range(size, peaks)
    if size + len(leaf_hashes) > MAX_TREE_SIZE:
        raise ValueError("appending would exceed the maximum tree size 2^64-1")
    stack = list(peaks)
    new_nodes: dict[NodeKey, bytes] = {}
    sha256 = hashlib.sha256
    prefix = _NODE_PREFIX
    index = size
    for position, leaf in enumerate(leaf_hashes):
        if type(leaf) is not bytes or len(leaf) != HASH_BYTES:
            _check_hash(f"leaf hash {position}", leaf)
        new_nodes[(0, index)] = leaf
        node = leaf
        level = 0
        node_index = index
        while node_index & 1:
            node = sha256(prefix + stack.pop() + node).digest()
            level += 1
            node_index >>= 1
            new_nodes[(level, node_index)] = node
        stack.append(node)
        index += 1
    return index, stack, new_nodes


def _fold(hashes: Sequence[bytes]) -> bytes:
    """The RFC 9162 hash of a range from its complete subtrees listed left to right (largest first)."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def root_from_compact_range(size: int, peaks: Sequence[bytes]) -> bytes:
    """The root hash of a tree of ``size`` leaves from its compact range."""
    _check_compact_range(size, peaks)
    if size == 0:
        return EMPTY_ROOT
    return _fold(peaks)


# ------------------------------------------------------------------------------------------------ proof building


def _range_keys(begin: int, end: int) -> list[NodeKey]:
    """The complete nodes covering leaves ``[begin, end)``, left to right, for a range whose hash is a fold.

    Such a range (any subtree of an RFC 9162 tree) starts at a multiple of the largest power of two that is
    ``<= end - begin``, so it decomposes into perfect subtrees of strictly decreasing size.
    """
    keys: list[NodeKey] = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin & ((1 << level) - 1):
            raise AssertionError(f"range [{begin}, {end}) is not a subtree of an RFC 9162 tree")
        keys.append((level, begin >> level))
        begin += 1 << level
    return keys


def _split(width: int) -> int:
    """The largest power of two strictly less than ``width`` (``width >= 2``)."""
    return 1 << ((width - 1).bit_length() - 1)


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """RFC 9162 PATH(index, D[0:size]) as leaf ranges, from the leaf's sibling up to the root's child."""
    ranges: list[tuple[int, int]] = []
    begin, end = 0, size
    while end - begin > 1:
        k = _split(end - begin)
        if index < begin + k:
            ranges.append((begin + k, end))
            end = begin + k
        else:
            ranges.append((begin, begin + k))
            begin += k
    ranges.reverse()
    return ranges


def _consistency_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """RFC 9162 PROOF(size1, D[0:size2]) as leaf ranges, for ``0 < size1 < size2``."""
    ranges: list[tuple[int, int]] = []
    begin, end = 0, size2
    whole = True  # SUBPROOF's b: is [begin, end) still the original tree's left edge?
    while size1 != end:
        k = _split(end - begin)
        if size1 - begin <= k:
            ranges.append((begin + k, end))
            end = begin + k
        else:
            ranges.append((begin, begin + k))
            begin += k
            whole = False
    if not whole:
        ranges.append((begin, end))
    ranges.reverse()
    return ranges


def _hash_ranges(reader: NodeReader, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """The hashes of ``ranges``, fetched with a single ``get_nodes`` call and folded where incomplete."""
    per_range = [_range_keys(begin, end) for begin, end in ranges]
    wanted = list(dict.fromkeys(key for keys in per_range for key in keys))
    if not wanted:
        return []
    found = reader.get_nodes(wanted)
    missing = [key for key in wanted if key not in found]
    if missing:
        raise MissingNodeError(f"{len(missing)} node(s) missing from the store, first {missing[:3]}")
    for key in wanted:
        value = found[key]
        if not isinstance(value, bytes) or len(value) != HASH_BYTES:
            raise MissingNodeError(f"node {key} in the store is not a {HASH_BYTES}-byte hash")
    return [_fold([found[key] for key in keys]) for keys in per_range]


def inclusion_proof(reader: NodeReader, index: int, size: int) -> list[bytes]:
    """The RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves (any stored size)."""
    _check_size("size", size)
    _check_size("index", index)
    if index >= size:
        raise ValueError(f"index {index} is not below size {size}")
    return _hash_ranges(reader, _inclusion_ranges(index, size))


NODES_PER_FETCH = 2000  # keys per get_nodes call when proving many leaves at once


def inclusion_proofs(reader: NodeReader, indexes: Sequence[int], size: int) -> dict[int, list[bytes]]:
    """Inclusion proofs of many leaves in one tree size, sharing node fetches (a bundle proves
    thousands of leaves; one query per proof would dominate)."""
    _check_size("size", size)
    per_index: dict[int, list[list[NodeKey]]] = {}
    for index in indexes:
        _check_size("index", index)
        if index >= size:
            raise ValueError(f"index {index} is not below size {size}")
        per_index[index] = [_range_keys(begin, end) for begin, end in _inclusion_ranges(index, size)]
    wanted = list(dict.fromkeys(key for ranges in per_index.values() for keys in ranges for key in keys))
    found: dict[NodeKey, bytes] = {}
    for start in range(0, len(wanted), NODES_PER_FETCH):
        found.update(reader.get_nodes(wanted[start:start + NODES_PER_FETCH]))
    missing = [key for key in wanted if not isinstance(found.get(key), bytes) or len(found[key]) != HASH_BYTES]
    if missing:
        raise MissingNodeError(f"{len(missing)} node(s) missing from the store, first {missing[:3]}")
    return {index: [_fold([found[key] for key in keys]) for keys in ranges] for index, ranges in per_index.items()}


def consistency_proof(reader: NodeReader, size1: int, size2: int) -> list[bytes]:
    """The RFC 9162 consistency proof from size ``size1`` to ``size2`` (empty if ``size1`` is 0 or ``size2``)."""
    _check_size("size1", size1)
    _check_size("size2", size2)
    if size1 > size2:
        raise ValueError(f"size1 {size1} is greater than size2 {size2}")
    if size1 == 0 or size1 == size2:
        return []
    return _hash_ranges(reader, _consistency_ranges(size1, size2))


def compact_range_at(reader: NodeReader, size: int) -> list[bytes]:
    """The compact range (right-edge perfect subtrees, largest first) of the tree of ``size`` leaves."""
    _check_size("size", size)
    keys = _range_keys(0, size)
    if not keys:
        return []
    found = reader.get_nodes(keys)
    missing = [key for key in keys if key not in found]
    if missing:
        raise MissingNodeError(f"{len(missing)} node(s) missing from the store, first {missing[:3]}")
    return [_check_hash(f"node {key}", found[key]) for key in keys]


def root_at(reader: NodeReader, size: int) -> bytes:
    """The root hash of the tree of ``size`` leaves (any stored size; ``EMPTY_ROOT`` for 0)."""
    peaks = compact_range_at(reader, size)
    return _fold(peaks) if peaks else EMPTY_ROOT


# ------------------------------------------------------------------------------------------------ proof verifying


def _check_proof(proof: Sequence[bytes]) -> list[bytes]:
    if isinstance(proof, (bytes, bytearray, str)):
        raise ProofError("proof must be a sequence of hashes, not a single bytes or str value")
    try:
        hashes = list(proof)
    except TypeError:
        raise ProofError(f"proof must be a sequence of hashes, not {type(proof).__name__}") from None
    for i, element in enumerate(hashes):
        if not isinstance(element, bytes):
            raise ProofError(f"proof[{i}] must be bytes, not {type(element).__name__}")
        if len(element) != HASH_BYTES:
            raise ProofError(f"proof[{i}] has {len(element)} bytes, want {HASH_BYTES}")
    return hashes


def _check_param_hash(name: str, value: object) -> bytes:
    if not isinstance(value, bytes):
        raise ProofError(f"{name} must be bytes, not {type(value).__name__}")
    if len(value) != HASH_BYTES:
        raise ProofError(f"{name} has {len(value)} bytes, want {HASH_BYTES}")
    return value


def _check_param_size(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProofError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0 or value > MAX_TREE_SIZE:
        raise ProofError(f"{name} {value} is outside [0, 2^64-1]")


def _match(what: str, calculated: bytes, expected: bytes) -> None:
    if not hmac.compare_digest(calculated, expected):
        raise ProofError(f"{what} mismatch: calculated {calculated.hex()}, expected {expected.hex()}")


def _decompose(index: int, size: int) -> tuple[int, int]:
    """Split the inclusion path of ``index`` in a tree of ``size`` into (inner, border) lengths.

    ``inner`` levels lie below the point where the paths to ``index`` and ``size - 1`` diverge; above it the
    path runs along the right border, where only left siblings (one per set bit) exist.
    """
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for level, sibling in enumerate(proof):
        if (index >> level) & 1:
            seed = node_hash(sibling, seed)
        else:
            seed = node_hash(seed, sibling)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    """Like ``_chain_inner`` but only over left siblings: the same subtree at the older, smaller size."""
    for level, sibling in enumerate(proof):
        if (index >> level) & 1:
            seed = node_hash(sibling, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for sibling in proof:
        seed = node_hash(sibling, seed)
    return seed


def root_from_inclusion_proof(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion proof; raises ``ProofError`` on malformed input."""
    _check_param_size("index", index)
    _check_param_size("size", size)
    if index >= size:
        raise ProofError(f"index {index} is not below size {size}")
    _check_param_hash("leaf hash", leaf_hash)
    hashes = _check_proof(proof)
    inner, border = _decompose(index, size)
    if len(hashes) != inner + border:
        raise ProofError(f"wrong proof length {len(hashes)} for index {index} in size {size}, want {inner + border}")
    result = _chain_inner(leaf_hash, hashes[:inner], index)
    return _chain_border_right(result, hashes[inner:])


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with root ``root``.

    Returns ``None`` on success; raises ``ProofError`` naming the reason otherwise.
    """
    _check_param_hash("root", root)
    calculated = root_from_inclusion_proof(leaf_hash, index, size, proof)
    _match("inclusion proof root", calculated, root)


def root_from_consistency_proof(size1: int, size2: int, proof: Sequence[bytes], root1: bytes) -> bytes:
    """The size-``size2`` root implied by a consistency proof, after checking it reproduces ``root1``."""
    _check_param_size("size1", size1)
    _check_param_size("size2", size2)
    _check_param_hash("root1", root1)
    hashes = _check_proof(proof)
    if size2 < size1:
        raise ProofError(f"size2 {size2} is smaller than size1 {size1}")
    if size1 == 0:
        _match("root1 of the empty tree", root1, EMPTY_ROOT)
        if hashes:
            raise ProofError(f"a consistency proof from size 0 must be empty, got {len(hashes)} hashes")
        if size2 == 0:
            return EMPTY_ROOT
        raise ProofError("a consistency proof from size 0 says nothing about the size2 root")
    if size1 == size2:
        if hashes:
            raise ProofError(f"size1 == size2 == {size1} needs an empty proof, got {len(hashes)} hashes")
        return root1
    if not hashes:
        raise ProofError(f"empty consistency proof from size {size1} to {size2}")

    inner, border = _decompose(size1 - 1, size2)
    shift = (size1 & -size1).bit_length() - 1  # trailing zero bits of size1
    inner -= shift  # the proof starts at the level of the largest perfect subtree ending at size1
    if size1 == 1 << shift:  # size1 is a power of two: that subtree is root1 itself and is not sent
        seed, start = root1, 0
    else:
        seed, start = hashes[0], 1
    if len(hashes) != start + inner + border:
        raise ProofError(
            f"wrong consistency proof length {len(hashes)} for sizes {size1} -> {size2}, want {start + inner + border}"
        )
    path = hashes[start:]
    mask = (size1 - 1) >> shift
    calculated1 = _chain_border_right(_chain_inner_right(seed, path[:inner], mask), path[inner:])
    _match("consistency proof root1", calculated1, root1)
    return _chain_border_right(_chain_inner(seed, path[:inner], mask), path[inner:])


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check that the tree of ``size1`` leaves and root ``root1`` is a prefix of the one of ``size2``/``root2``.

    Size 0 is consistent with every tree (empty proof, ``root1 == EMPTY_ROOT``). Returns ``None`` on success;
    raises ``ProofError`` naming the reason otherwise.
    """
    _check_param_size("size1", size1)
    _check_param_size("size2", size2)
    _check_param_hash("root1", root1)
    _check_param_hash("root2", root2)
    if size1 == 0 and size2 > 0:
        # Nothing to compute, but the inputs must still be well formed.
        hashes = _check_proof(proof)
        _match("root1 of the empty tree", root1, EMPTY_ROOT)
        if hashes:
            raise ProofError(f"a consistency proof from size 0 must be empty, got {len(hashes)} hashes")
        return
    calculated = root_from_consistency_proof(size1, size2, proof, root1)
    _match("consistency proof root2", calculated, root2)
