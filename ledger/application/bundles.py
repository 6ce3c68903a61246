"""Merkle proofs for other bundles (the transfer bundle of `ledger.application.transfers`).

`inclusion_proofs_for(ledger, envelopes)` catches the region's log up, signs (or reuses) a checkpoint
that covers it, and returns, in the shape `ledger.application.transfers` checks:

    {"origin": "timeledger/320102", "checkpoint": "<signed note>",
     "proofs": [{"leaf_hash": "<hex>", "index": <leaf index>, "path": ["<hex>", …]}, …]}
"""

from __future__ import annotations

from typing import Any, Sequence

from ledger.signing import merkle
from ledger.signing.statement import parse_signed_bytes, unpack
from ledger.application.checkpoints import sign_checkpoint
from ledger.storage.checkpoints import origin_of
from ledger.storage.merkle_log import MerkleLog


class BundleProofError(LookupError):
    """An envelope that is not (or no longer) in the region's log."""


def inclusion_proofs_for(ledger: Any, envelopes: Sequence[bytes], *, log: MerkleLog | None = None) -> dict[str, Any]:
    log = log or MerkleLog.for_ledger(ledger)
    checkpoint = sign_checkpoint(ledger, log, reuse_latest=True)
    statements = [parse_signed_bytes(unpack(envelope)[1], strict=False) for envelope in envelopes]
    logged = {(leaf.aggregate_id, leaf.version): leaf
              for leaf in reversed(log.leaves_of_aggregates({s.aggregate for s in statements}, below=checkpoint.size))}
    found: list[tuple[bytes, int]] = []
    for envelope, statement in zip(envelopes, statements):
        leaf = logged.get((statement.aggregate, statement.version))
        digest = merkle.leaf_hash(envelope)
        if leaf is None or leaf.index >= checkpoint.size:
            raise BundleProofError(f"event {statement.aggregate} v{statement.version} is not in the region's log")
        if leaf.leaf_hash != digest:
            raise BundleProofError(f"event {statement.aggregate} v{statement.version} differs from the logged one")
        found.append((digest, leaf.index))
    paths = merkle.inclusion_proofs(log, [index for _, index in found], checkpoint.size)
    proofs = [{"leaf_hash": digest.hex(), "index": index, "path": [h.hex() for h in paths[index]]}
              for digest, index in found]
    return {"origin": origin_of(ledger.region_code), "checkpoint": checkpoint.note, "proofs": proofs}
