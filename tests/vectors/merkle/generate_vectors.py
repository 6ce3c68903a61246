"""Regenerate the Merkle known-answer vectors in this directory.

    python tests/vectors/merkle/generate_vectors.py

Deliberately independent of ``ledger.signing.merkle``: it is a direct transcription of the recursive
definitions in RFC 6962 section 2.1 / RFC 9162 section 2.1 (MTH, PATH, PROOF/SUBPROOF) over the raw leaf data,
with nothing cached or batched. The output is deterministic; re-running it must not change the files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The leaves of the reference tree used by the Certificate Transparency and transparency-dev/merkle test suites.
REFERENCE_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 MTH(D[n])."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return sha256(b"\x00" + leaves[0])
    k = split_point(n)
    return sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 PATH(m, D[n])."""
    n = len(leaves)
    if n == 1:
        return []
    k = split_point(n)
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    """RFC 6962 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if whole else [mth(leaves)]
    k = split_point(n)
    if m <= k:
        return subproof(m, leaves[:k], whole) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def proof(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 PROOF(m, D[n]) for 0 < m <= n."""
    return subproof(m, leaves, True)


def tree_vectors(description: str, leaves: list[bytes], max_proof_size: int) -> dict[str, object]:
    size = len(leaves)
    return {
        "description": description,
        "leaves": [leaf.hex() for leaf in leaves],
        "leaf_hashes": [sha256(b"\x00" + leaf).hex() for leaf in leaves],
        "roots": [mth(leaves[:n]).hex() for n in range(size + 1)],
        "inclusion": [
            {"index": m, "size": n, "proof": [h.hex() for h in path(m, leaves[:n])]}
            for n in range(1, min(size, max_proof_size) + 1)
            for m in range(n)
        ],
        "consistency": [
            {"size1": m, "size2": n, "proof": [h.hex() for h in proof(m, leaves[:n])]}
            for n in range(1, min(size, max_proof_size) + 1)
            for m in range(1, n + 1)
        ],
    }


def main() -> None:
    reference = tree_vectors(
        "RFC 6962 reference tree (8 leaves), all roots, inclusion and consistency proofs",
        [bytes.fromhex(leaf) for leaf in REFERENCE_LEAVES],
        8,
    )
    counted = tree_vectors(
        "70 leaves b'leaf-<i>'; all roots, proofs for sizes up to 13",
        [f"leaf-{i}".encode() for i in range(70)],
        13,
    )
    for name, vectors in [("rfc6962_reference_tree.json", reference), ("counted_tree.json", counted)]:
        (HERE / name).write_text(json.dumps(vectors, indent=1) + "\n")


if __name__ == "__main__":
    main()
