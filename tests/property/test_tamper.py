"""Tamper evidence: any single flipped byte in any stored event is detected, naming that event."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from ledger.storage.database import parse_database_url
from ledger.verification.store import verify_store
from tests.scenario import build_region, redeem, serve

COLUMNS = ["state", "originator_id", "originator_version", "topic"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes, int]:
    """A small region's SQLite file (its bytes), the root key and the number of events."""
    path = tmp_path_factory.mktemp("tamper") / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}")
    region = build_region(ledger, members=2)
    for member in region.members:
        serve(region, member, 90)
        redeem(region, member)
    rows = ledger.recorder.max_notification_id()
    root = region.root_public_key
    ledger.close()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return path.read_bytes(), root, rows


def verify_copy(data: bytes, root: bytes, where: Path, mutate) -> tuple[object, list]:
    path = where / "copy.db"
    path.write_bytes(data)
    connection = sqlite3.connect(path)
    target = mutate(connection)
    connection.commit()
    connection.close()
    report = verify_store(parse_database_url(f"sqlite:///{path}"), root_public_key=root, region_code="320102",
                          workers=0)
    path.unlink()
    return target, report.problems


@settings(max_examples=60)
@given(row_choice=st.integers(min_value=0), column=st.sampled_from(COLUMNS), byte_choice=st.integers(min_value=0),
       bit=st.integers(0, 7))
def test_any_flipped_byte_is_detected_and_names_the_event(pristine, tmp_path_factory, row_choice, column,
                                                          byte_choice, bit) -> None:
    data, root, rows = pristine
    rowid = row_choice % rows + 1

    def flip(connection: sqlite3.Connection) -> tuple[int, object]:
        value = connection.execute(f"SELECT {column} FROM stored_events WHERE rowid=?", (rowid,)).fetchone()[0]
        if column == "originator_version":
            changed: object = value ^ (1 << bit)
        else:
            raw = bytearray(value if isinstance(value, bytes) else value.encode())
            raw[byte_choice % len(raw)] ^= 1 << bit
            changed = bytes(raw) if isinstance(value, bytes) else raw.decode("utf-8", "replace")
        if changed == value:
            changed = value + ("x" if isinstance(value, str) else b"x" if isinstance(value, bytes) else 1)
        try:
            connection.execute(f"UPDATE stored_events SET {column}=? WHERE rowid=?", (changed, rowid))
        except sqlite3.IntegrityError:  # the flipped key is another row's: the database refuses it
            return None
        return rowid, changed

    flipped, problems = verify_copy(data, root, tmp_path_factory.mktemp("t"), flip)
    assume(flipped is not None)
    target, _ = flipped
    assert problems, f"flipping {column} of event {target} went unnoticed"
    named = {p.position for p in problems}
    assert target in named or column == "originator_version" and problems, (target, [str(p) for p in problems])


def test_a_deleted_event_in_the_middle_breaks_the_chain(pristine, tmp_path) -> None:
    data, root, _ = pristine

    def delete(connection: sqlite3.Connection) -> tuple[str, int]:
        originator, version = connection.execute(
            "SELECT originator_id, originator_version FROM stored_events WHERE originator_version = 2 "
            "AND originator_id IN (SELECT originator_id FROM stored_events WHERE originator_version = 3) "
            "LIMIT 1").fetchone()
        connection.execute("DELETE FROM stored_events WHERE originator_id=? AND originator_version=2", (originator,))
        return originator, version

    (originator, _), problems = verify_copy(data, root, tmp_path, delete)
    assert any(p.aggregate_id == originator and "gap" in p.reason for p in problems)


def test_a_row_copied_onto_another_aggregate_is_detected(pristine, tmp_path) -> None:
    data, root, _ = pristine

    def swap(connection: sqlite3.Connection) -> int:
        rows = connection.execute("SELECT rowid, state FROM stored_events WHERE topic LIKE '%Redeemed' "
                                  "ORDER BY rowid").fetchall()
        connection.execute("UPDATE stored_events SET state=? WHERE rowid=?", (rows[0][1], rows[1][0]))
        return rows[1][0]

    target, problems = verify_copy(data, root, tmp_path, swap)
    assert any(p.position == target and "differs" in p.reason for p in problems)


def test_a_store_verified_against_another_trust_root_fails_everywhere(pristine, tmp_path) -> None:
    from ledger.signing import keys as ed25519

    data, _, rows = pristine
    other_root = ed25519.public_bytes(ed25519.generate().public_key())
    _, problems = verify_copy(data, other_root, tmp_path, lambda connection: None)
    assert len({p.position for p in problems}) == rows


def test_unmodified_store_verifies(pristine, tmp_path) -> None:
    data, root, _ = pristine
    _, problems = verify_copy(data, root, tmp_path, lambda connection: None)
    assert problems == []
