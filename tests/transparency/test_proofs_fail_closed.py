"""`timeledger proof verify` fails closed: a proof's roots count only when a checkpoint signed by a
region key that the trust root certified, and valid when it signed, vouches for them."""

from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from ledger.application import Ledger
from api.cli import app
from ledger.signing import merkle
from ledger.signing.note import Checkpoint, Ed25519Signer, sign_note
from ledger.application.checkpoints import sign_checkpoint
from ledger.storage.checkpoints import CheckpointStore, TIME_PREFIX, format_time, origin_of
from ledger.verification.checkpoints import RegionKeyring
from ledger.storage.merkle_log import MerkleLog
from ledger.verification.proofs import (
    CONSISTENCY_HEADER,
    ProofFileError,
    consistency_file,
    inclusion_file,
    leaf_for,
    verify_consistency_file,
    verify_inclusion_file,
)
from tests.scenario import build_region, serve

runner = CliRunner()
B64 = lambda data: base64.b64encode(data).decode()  # noqa: E731 - a one-line helper


def fabricated(size1: int, root1: bytes, size2: int, root2: bytes, hashes: list[bytes] = (), notes: str = "") -> str:
    lines = [CONSISTENCY_HEADER, f"old {size1} {B64(root1)}", f"new {size2} {B64(root2)}", *map(B64, hashes)]
    return "".join(line + "\n" for line in lines) + "\n" + notes


def forged_note(size: int, root: bytes, key: Ed25519PrivateKey, *, moment: datetime | None = None) -> str:
    when = format_time(moment or datetime.now(timezone.utc))
    body = Checkpoint(origin_of("320102"), size, root, (TIME_PREFIX + when,)).to_body()
    return sign_note(body, [Ed25519Signer(origin_of("320102"), key)])


@pytest.fixture
def logged(tmp_path: Path) -> tuple[Ledger, MerkleLog, str, bytes]:
    db = f"sqlite:///{tmp_path / 'p.db'}"
    ledger = Ledger(db)
    region = build_region(ledger, members=1)
    log = MerkleLog.for_ledger(ledger)
    sign_checkpoint(ledger, log)
    serve(region, region.members[0], 60)
    sign_checkpoint(ledger, log)
    yield ledger, log, db, region.root_public_key
    ledger.close()


def test_a_fabricated_consistency_proof_from_the_empty_tree_is_refused(logged, tmp_path: Path) -> None:
    ledger, _, db, root = logged
    keyring = RegionKeyring.from_store(ledger, root)
    text = fabricated(0, merkle.EMPTY_ROOT, 999_999, os.urandom(32))
    with pytest.raises(ProofFileError) as refused:
        verify_consistency_file(text, keyring)
    assert refused.value.code == "checkpoint_missing"
    with pytest.raises(ProofFileError):  # a random old root is not even the empty tree's
        verify_consistency_file(fabricated(0, os.urandom(32), 999_999, os.urandom(32)), keyring)
    proof = tmp_path / "fabricated.txt"
    proof.write_text(text)
    result = runner.invoke(app, ["proof", "verify", str(proof), "--db", db])
    assert result.exit_code == 1 and "FAILED [checkpoint_missing]" in result.output, result.output
    assert "OK" not in result.output


def test_a_consistency_proof_stripped_of_a_checkpoint_is_refused(logged) -> None:
    ledger, log, _, root = logged
    keyring = RegionKeyring.from_store(ledger, root)
    first, second = CheckpointStore.for_log(log).all()
    text = consistency_file(log, first.size, second.size)
    assert verify_consistency_file(text, keyring).size2 == second.size
    head, _, _ = text.partition("\n\n")
    for kept in ("", first.note, second.note):
        with pytest.raises(ProofFileError) as refused:
            verify_consistency_file(head + "\n\n" + kept, keyring)
        assert refused.value.code == "checkpoint_missing", kept


def test_checkpoints_signed_by_a_key_the_root_did_not_certify_are_refused(logged, tmp_path: Path) -> None:
    """A well-formed proof whose checkpoints an attacker signed with their own key (right origin)."""
    ledger, _, db, root = logged
    attacker = Ed25519PrivateKey.generate()
    size, tree_root = 2, merkle.root_from_compact_range(*merkle.append_leaves(0, [], [b"a" * 32, b"b" * 32])[:2])
    text = fabricated(0, merkle.EMPTY_ROOT, size, tree_root, notes=forged_note(size, tree_root, attacker))
    with pytest.raises(ProofFileError) as refused:
        verify_consistency_file(text, RegionKeyring.from_store(ledger, root))
    assert refused.value.code == "checkpoint_untrusted"
    proof = tmp_path / "forged.txt"
    proof.write_text(text)
    result = runner.invoke(app, ["proof", "verify", str(proof), "--db", db])
    assert result.exit_code == 1 and "FAILED [checkpoint_untrusted]" in result.output, result.output


def test_a_checkpoint_signed_before_the_region_key_was_certified_is_refused(logged) -> None:
    """The region's own, certified key — but the note claims a time before its registration."""
    ledger, log, _, root = logged
    keyring = RegionKeyring.from_store(ledger, root)
    (key,) = keyring.keys
    _, _, private = ledger._signer_for(ledger.region_actor())
    latest = CheckpointStore.for_log(log).latest()
    note = forged_note(latest.size, latest.root, private, moment=key.registered_at - timedelta(days=1))
    with pytest.raises(ProofFileError, match="was not valid") as refused:
        verify_consistency_file(fabricated(0, merkle.EMPTY_ROOT, latest.size, latest.root,
                                           log.consistency_proof(0, latest.size), note), keyring)
    assert refused.value.code == "checkpoint_untrusted"
    genuine = forged_note(latest.size, latest.root, private, moment=key.registered_at + timedelta(seconds=1))
    verify_consistency_file(fabricated(0, merkle.EMPTY_ROOT, latest.size, latest.root, [], genuine), keyring)


def test_an_inclusion_proof_opens_only_under_the_certified_region_key(logged, tmp_path: Path) -> None:
    ledger, log, db, root = logged
    keyring = RegionKeyring.from_store(ledger, root)
    latest = CheckpointStore.for_log(log).latest()
    text = inclusion_file(log, latest, leaf_for(log, position=3))
    assert verify_inclusion_file(text, keyring).index == 2
    other_root = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    with pytest.raises(ProofFileError) as refused:  # another trust root certifies no key of this region
        verify_inclusion_file(text, RegionKeyring.from_store(ledger, other_root))
    assert refused.value.code == "checkpoint_untrusted"
    proof = tmp_path / "inclusion.txt"
    proof.write_text(text)
    trust = tmp_path / "other-root.pub"
    trust.write_text(B64(other_root) + "\n")
    result = runner.invoke(app, ["proof", "verify", str(proof), "--trust", str(trust), "--db", db])
    assert result.exit_code == 1 and "FAILED [checkpoint_untrusted]" in result.output, result.output
    result = runner.invoke(app, ["proof", "verify", str(proof), "--db", db])
    assert result.exit_code == 0 and result.output.startswith("OK"), result.output


def test_the_producer_embeds_both_checkpoints_and_refuses_unsigned_sizes(logged, tmp_path: Path) -> None:
    ledger, log, db, _ = logged
    first, second = CheckpointStore.for_log(log).all()
    out = tmp_path / "c.txt"
    result = runner.invoke(app, ["proof", "consistency", "--from", str(first.size), "--out", str(out), "--db", db])
    assert result.exit_code == 0, result.output
    assert first.note in out.read_text() and second.note in out.read_text()
    assert runner.invoke(app, ["proof", "verify", str(out), "--db", db]).exit_code == 0
    result = runner.invoke(app, ["proof", "consistency", "--from", "1", "--out", str(out), "--db", db])
    assert result.exit_code == 2 and "no signed checkpoint of size 1" in result.output, result.output


def test_an_inclusion_proof_without_its_checkpoint_is_refused(logged) -> None:
    ledger, log, _, root = logged
    latest = CheckpointStore.for_log(log).latest()
    text = inclusion_file(log, latest, leaf_for(log, position=2))
    stripped = text[: text.index(latest.note)]
    for mutated in (stripped, stripped.rstrip("\n") + "\n"):
        with pytest.raises(ProofFileError):
            verify_inclusion_file(mutated, RegionKeyring.from_store(ledger, root))
