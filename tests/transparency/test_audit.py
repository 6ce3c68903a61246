"""`timeledger audit`: history rewritten after a checkpoint is detected, even where hash chains cannot see it."""

from __future__ import annotations

import base64
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ledger.application import Ledger
from api.cli import app
from ledger.domain.time_account import TimeAccount
from ledger.signing import merkle
from ledger.storage import log_tables as t
from projections.audit import audit
from ledger.application.checkpoints import cosign, sign_checkpoint
from ledger.storage.checkpoints import CheckpointError, CheckpointStore
from ledger.verification.checkpoints import check_consistency
from ledger.storage.merkle_log import MerkleLog
from ledger.verification.store import verify_store
from tests.scenario import serve
from tests.transparency.helpers import build_history, delete_event, last_position_of, set_state, stored_state

runner = CliRunner()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, int]:
    """A region with a Merkle log and a signed checkpoint, as a SQLite file to copy."""
    path = tmp_path_factory.mktemp("audit") / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}")
    history = build_history(ledger)
    checkpoint = sign_checkpoint(ledger)
    root = history.region.root_public_key
    ledger.close()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path, root, checkpoint.size


def copy_of(pristine: tuple[Path, bytes, int], where: Path) -> Ledger:
    source = pristine[0]
    target = where / "copy.db"
    shutil.copyfile(source, target)
    shutil.copyfile(f"{source}.masterkey", f"{target}.masterkey")
    return Ledger(f"sqlite:///{target}")


def rebuilt_root(ledger: Ledger, size: int) -> bytes:
    """What an independent auditor gets by re-logging the store from scratch."""
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
    try:
        log = MerkleLog(ledger, engine=engine)
        log.catch_up()
        return log.root_at(size) if log.size >= size else b""
    finally:
        engine.dispose()


def test_a_clean_region_audits_clean(any_ledger: Ledger) -> None:
    history = build_history(any_ledger)
    sign_checkpoint(any_ledger)
    serve(history.region, history.region.members[1], 30)
    sign_checkpoint(any_ledger)
    serve(history.region, history.region.members[1], 40)  # not yet logged
    report = audit(any_ledger, workers=0, catch_up=False)
    assert not report.ok and not report.differences and report.incomplete  # the unlogged tail: never a plain yes
    assert report.events == report.leaves + report.unlogged and report.unlogged > 0
    report = audit(any_ledger, workers=0)  # the default catches the log up first
    assert report.ok, [str(d) for d in report.differences] + report.incomplete
    assert report.events == report.leaves and report.unlogged == 0
    assert report.checkpoints == 2 and report.accounts == 2
    assert report.root == MerkleLog.for_ledger(any_ledger).state().root


@settings(max_examples=25)
@given(row=st.integers(min_value=1), offset=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_change_to_a_stored_event_after_a_checkpoint_is_detected(pristine, tmp_path_factory, row, offset,
                                                                     bit) -> None:
    _, root, size = pristine
    ledger = copy_of(pristine, tmp_path_factory.mktemp("flip"))
    position = row % size + 1
    state = bytearray(stored_state(ledger, position))
    state[offset % len(state)] ^= 1 << bit
    set_state(ledger, position, bytes(state))
    report = audit(ledger, root_public_key=root, verify=False, views=False)
    assert any(d.kind == "store" and d.position == position and "changed" in d.detail for d in report.differences)
    assert any("do not hash to checkpoint" in d.detail for d in report.differences)
    # the next consistency check: a log rebuilt from this store no longer extends the signed checkpoint
    latest = CheckpointStore.for_log(MerkleLog.for_ledger(ledger)).latest()
    assert rebuilt_root(ledger, size) != latest.root
    ledger.close()


def test_a_rewritten_log_cannot_be_made_consistent_with_the_old_checkpoint(pristine, tmp_path: Path) -> None:
    """The operator changes an event, rebuilds the whole log from the store and signs a new checkpoint:
    the new checkpoint does not extend the old one, so a witness refuses it and the audit names it."""
    _, root, size = pristine
    ledger = copy_of(pristine, tmp_path)
    log = MerkleLog.for_ledger(ledger)
    old = CheckpointStore.for_log(log).latest()
    state = bytearray(stored_state(ledger, size // 2))
    state[-3] ^= 1
    set_state(ledger, size // 2, bytes(state))
    with log.engine.begin() as connection:  # the operator wipes the log and builds it again
        for table in (t.leaves, t.nodes):
            connection.execute(table.delete())
        connection.execute(t.state.update().values(size=0, position=0, compact_range=b"", root=merkle.EMPTY_ROOT))
    new = sign_checkpoint(ledger, log)
    with pytest.raises(merkle.ProofError):
        check_consistency(log, old, new)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    witness = Ed25519PrivateKey.generate()
    cosign(ledger, witness_name="timeledger/320104", witness_key=witness, checkpoint=old, log=log)
    with pytest.raises(CheckpointError, match="not consistent"):
        cosign(ledger, witness_name="timeledger/320104", witness_key=witness, checkpoint=new, log=log)
    report = audit(ledger, root_public_key=root, verify=False, views=False)
    assert any(d.kind == "checkpoint" and "is not consistent with checkpoint" in d.detail for d in report.differences)
    assert any(d.kind == "log" and f"checkpoint {old.checkpoint_id}'s root" in d.detail for d in report.differences)
    ledger.close()


@pytest.mark.parametrize("any_store_url", ["sqlite", "postgres"], indirect=True)
def test_deleting_the_last_event_of_an_aggregate_is_caught_by_the_log_not_by_the_chains(any_ledger: Ledger) -> None:
    history = build_history(any_ledger)
    sign_checkpoint(any_ledger)
    member = history.region.members[0]
    account_id = TimeAccount.create_id(member.actor_id)
    position, version = last_position_of(any_ledger, account_id)  # the redemption: the member "gets back" minutes
    delete_event(any_ledger, position)
    root = history.region.root_public_key
    chains = verify_store(any_ledger.database, root_public_key=root, region_code="320102",
                          recorder=any_ledger.recorder, workers=0)
    # every remaining chain is intact: per-aggregate hashing cannot see a missing tail, the log beside it can
    assert [(p.position, p.version) for p in chains.problems] == [(position, version)], [str(p) for p in chains.problems]
    assert "deleted" in chains.problems[0].reason
    report = audit(any_ledger, workers=0, views=False)
    assert any(d.kind == "store" and d.position == position and "deleted" in d.detail for d in report.differences)
    assert any(d.kind == "store" and "checkpoint 1 " in d.detail for d in report.differences)


def test_a_tampered_log_table_is_reported(pristine, tmp_path: Path) -> None:
    _, root, size = pristine
    ledger = copy_of(pristine, tmp_path)
    with sqlite3.connect(ledger.database.sqlite_path) as connection:
        connection.execute("UPDATE tlt_leaves SET leaf_hash=? WHERE leaf_index=3", (bytes(32),))
        connection.execute("DELETE FROM tlt_nodes WHERE level=2 AND node_index=0")
    report = audit(ledger, root_public_key=root, verify=False, views=False)
    details = [str(d) for d in report.differences]
    assert any(d.kind == "store" and d.leaf_index == 3 for d in report.differences), details
    assert any(d.kind == "log" and "level 2, index 0" in d.detail for d in report.differences), details
    assert any(d.kind == "log" and "checkpoint 1's root" in d.detail for d in report.differences), details
    ledger.close()


def test_audit_compares_the_projections(tmp_path: Path) -> None:
    views_module = pytest.importorskip("projections.projector")
    db = f"sqlite:///{tmp_path / 'v.db'}"
    ledger = Ledger(db)
    history = build_history(ledger)
    sign_checkpoint(ledger)
    views = views_module.Views(ledger)
    views.catch_up()
    report = audit(ledger, workers=0)
    assert report.ok and report.views_compared == "yes", [str(d) for d in report.differences]
    from projections import schema as v

    member = str(history.region.members[0].actor_id)
    with views.engine.begin() as connection:
        connection.execute(v.accounts.update().where(v.accounts.c.member_id == member)
                           .values(available_minutes=v.accounts.c.available_minutes + 600))
        connection.execute(v.member_years.update().where(v.member_years.c.member_id == member)
                           .values(stars=5))
    views.close()
    report = audit(ledger, workers=0)
    assert any(d.kind == "views" and member in d.detail and "balance" in d.detail for d in report.differences)
    assert any(d.kind == "views" and "stars 5" in d.detail for d in report.differences)
    ledger.close()


def test_cli_checkpoint_proofs_and_audit(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    ledger = Ledger(db)
    history = build_history(ledger)
    ledger.close()
    witness_file = tmp_path / "witness.key"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    witness_file.write_text(base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode() + "\n")
    result = runner.invoke(app, ["checkpoint", "--db", db])
    assert result.exit_code == 0 and "timeledger/320102\n" in result.output and "verifier key: " in result.output
    result = runner.invoke(app, ["checkpoint", "--cosign-with", str(witness_file), "--witness", "timeledger/320104",
                                 "--db", db])
    assert result.exit_code == 0 and "— timeledger/320104 " in result.output, result.output
    proof = tmp_path / "p.txt"
    member = history.region.members[0].actor_id
    for args in (["--position", "5"], ["--event", f"{member}:1"]):
        result = runner.invoke(app, ["proof", "inclusion", *args, "--out", str(proof), "--db", db])
        assert result.exit_code == 0, result.output
        assert runner.invoke(app, ["proof", "verify", str(proof), "--db", db]).exit_code == 0
    tampered = proof.read_text().replace("\nindex ", "\nindex 1", 1)
    proof.write_text(tampered)
    result = runner.invoke(app, ["proof", "verify", str(proof), "--db", db])
    assert result.exit_code == 1 and "FAILED" in result.output
    result = runner.invoke(app, ["proof", "consistency", "--from", "7", "--out", str(proof), "--db", db])
    assert result.exit_code == 2 and "no signed checkpoint of size 7" in result.output, result.output
    result = runner.invoke(app, ["proof", "consistency", "--from", "0", "--out", str(proof), "--db", db])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["proof", "verify", str(proof), "--db", db]).exit_code == 0
    result = runner.invoke(app, ["audit", "--workers", "0", "--db", db])
    assert result.exit_code == 0 and "OK: no differences" in result.output, result.output
    with sqlite3.connect(tmp_path / "c.db") as connection:
        connection.execute("DELETE FROM stored_events WHERE rowid=(SELECT max(rowid) FROM stored_events)")
    result = runner.invoke(app, ["audit", "--workers", "0", "--db", db])
    assert result.exit_code == 1 and "deleted" in result.output, result.output
