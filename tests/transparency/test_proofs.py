"""Checkpoints, witness cosignatures and proof files: round trips and rejected mutations."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.application import Ledger
from ledger.signing import merkle
from ledger.signing.note import Ed25519Verifier, open_checkpoint, parse_verifier_key
from ledger.application.bundles import inclusion_proofs_for
from ledger.application.checkpoints import cosign, sign_checkpoint
from ledger.storage.checkpoints import CheckpointError, CheckpointStore, checkpoint_time
from ledger.verification.checkpoints import region_note_verifier, verify_witnesses, witness_verifier_key
from ledger.storage.merkle_log import MerkleLog
from ledger.verification.proofs import (
    ProofFileError,
    consistency_file,
    inclusion_file,
    leaf_for,
    verify_consistency_file,
    verify_inclusion_file,
)
from tests.scenario import build_region, serve


@pytest.fixture
def logged(any_ledger: Ledger) -> tuple[Ledger, MerkleLog]:
    region = build_region(any_ledger, members=2)
    serve(region, region.members[0], 90)
    log = MerkleLog.for_ledger(any_ledger)
    sign_checkpoint(any_ledger, log)
    serve(region, region.members[1], 60)
    sign_checkpoint(any_ledger, log)
    return any_ledger, log


def test_checkpoints_are_signed_by_the_region_key_and_consistent(logged) -> None:
    ledger, log = logged
    first, second = CheckpointStore.for_log(log).all()
    verifier = region_note_verifier(ledger)
    for stored in (first, second):
        checkpoint = open_checkpoint(stored.note, verifier).checkpoint
        assert (checkpoint.origin, checkpoint.size, checkpoint.root_hash) == ("timeledger/320102", stored.size,
                                                                             stored.root)
        assert checkpoint_time(checkpoint) == stored.moment
    assert parse_verifier_key(verifier.verifier_key()).key_id == verifier.key_id
    assert first.size < second.size
    merkle.verify_consistency(first.size, second.size, log.consistency_proof(first.size, second.size), first.root,
                              second.root)
    assert sign_checkpoint(ledger, log, reuse_latest=True).checkpoint_id == second.checkpoint_id


def test_witnesses_cosign_only_consistent_checkpoints(logged) -> None:
    ledger, log = logged
    store = CheckpointStore.for_log(log)
    first, second = store.all()
    witness = Ed25519PrivateKey.generate()
    vkey = witness_verifier_key("timeledger/320104", witness)
    cosigned = cosign(ledger, witness_name="timeledger/320104", witness_key=witness, checkpoint=first, log=log)
    assert verify_witnesses(cosigned.note, [vkey], 1) == ["timeledger/320104"]
    assert open_checkpoint(cosigned.note, region_note_verifier(ledger)).checkpoint.size == first.size
    cosign(ledger, witness_name="timeledger/320104", witness_key=witness, checkpoint=second, log=log)
    with pytest.raises(CheckpointError, match="quorum is 2"):
        verify_witnesses(store.get(second.checkpoint_id).note, [vkey], 2)
    forged = store.add(origin=second.origin, size=second.size, root=bytes(32), time=second.time,
                       key_id=second.key_id, note=second.note.replace(base64.b64encode(second.root).decode(),
                                                                      base64.b64encode(bytes(32)).decode()))
    with pytest.raises(CheckpointError):  # the region's signature no longer verifies
        cosign(ledger, witness_name="timeledger/320104", witness_key=witness, checkpoint=forged, log=log)
    _, _, region_key = ledger._signer_for(ledger.region_actor())
    with pytest.raises(CheckpointError, match="own checkpoints"):
        cosign(ledger, witness_name="timeledger/320102", witness_key=region_key, checkpoint=second, log=log)


def test_inclusion_files_verify_and_every_mutation_fails(logged) -> None:
    ledger, log = logged
    latest = CheckpointStore.for_log(log).latest()
    verifier = region_note_verifier(ledger)
    for position in (1, latest.size // 2, latest.size):
        leaf = leaf_for(log, position=position)
        text = inclusion_file(log, latest, leaf)
        verified = verify_inclusion_file(text, verifier)
        assert verified.index == leaf.index and merkle.leaf_hash(verified.envelope) == leaf.leaf_hash
        lines = text.split("\n")
        mutations = [
            text.replace(f"\nindex {leaf.index}\n", f"\nindex {leaf.index + 1}\n"),
            text.replace(lines[1], "extra " + base64.b64encode(b"TLS1" + bytes(200)).decode()),
        ]
        if len(lines) > 4 and lines[3] and not lines[3].startswith("timeledger"):
            flipped = bytearray(base64.b64decode(lines[3]))
            flipped[0] ^= 1
            mutations.append(text.replace(lines[3], base64.b64encode(bytes(flipped)).decode()))
            mutations.append(text.replace(lines[3] + "\n", "", 1))  # truncated path
            mutations.append(text.replace(lines[3] + "\n", lines[3] + "\n" + lines[3] + "\n", 1))  # extended
        for mutated in mutations:
            with pytest.raises(ProofFileError):
                verify_inclusion_file(mutated, verifier)
    other = Ed25519Verifier("timeledger/320102", Ed25519PrivateKey.generate().public_key().public_bytes_raw())
    with pytest.raises(ProofFileError, match="checkpoint"):
        verify_inclusion_file(text, other)
    assert leaf_for(log, event=(leaf.aggregate_id, leaf.version)).index == leaf.index
    with pytest.raises(ProofFileError):
        leaf_for(log, position=10**9)


def test_consistency_files_verify_and_mutations_fail(logged) -> None:
    ledger, log = logged
    first, second = CheckpointStore.for_log(log).all()
    verifier = region_note_verifier(ledger)
    text = consistency_file(log, first.size, second.size)
    proof = verify_consistency_file(text, verifier)
    assert (proof.size1, proof.size2, len(proof.notes)) == (first.size, second.size, 2)
    for size1 in (0, second.size):  # the empty tree needs no checkpoint; the same tree needs one
        verify_consistency_file(consistency_file(log, size1, second.size), verifier)
    for size1 in (1, 7):  # no checkpoint was signed at these sizes: nothing would authenticate their roots
        with pytest.raises(ProofFileError, match="no signed checkpoint of size") as refused:
            consistency_file(log, size1, second.size)
        assert refused.value.code == "unsigned_size"
    lines = text.split("\n")
    flipped = bytearray(base64.b64decode(lines[3]))
    flipped[5] ^= 4
    for mutated in (text.replace(lines[3], base64.b64encode(bytes(flipped)).decode()),
                    text.replace(f"old {first.size} ", f"old {first.size - 1} "),
                    text.replace(lines[2], f"new {second.size} {base64.b64encode(bytes(32)).decode()}")):
        with pytest.raises(ProofFileError):
            verify_consistency_file(mutated, verifier)
    with pytest.raises(ProofFileError):
        consistency_file(log, second.size, first.size)


def test_transfer_bundles_get_proofs_of_their_heads(logged) -> None:
    """The shape `ledger.application.transfers` checks: origin, a checkpoint the region key opens, a proof per head."""
    ledger, log = logged
    heads = [n.state for n in ledger.recorder.select_notifications(start=1, limit=5)]
    part = inclusion_proofs_for(ledger, heads)
    assert part["origin"] == "timeledger/320102"
    verifier = Ed25519Verifier(part["origin"], base64.b64decode(ledger.public_key_of(ledger.region_actor())))
    checkpoint = open_checkpoint(part["checkpoint"], verifier, origin=part["origin"]).checkpoint
    proofs = {p["leaf_hash"]: p for p in part["proofs"]}
    for envelope in heads:
        leaf = merkle.leaf_hash(envelope)
        proof = proofs[leaf.hex()]
        merkle.verify_inclusion(leaf, proof["index"], checkpoint.size, [bytes.fromhex(h) for h in proof["path"]],
                                checkpoint.root_hash)
