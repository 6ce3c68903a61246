"""`timeledger verify` and `timeledger audit` are total functions of the store.

Hypothesis mutates rows of a real (small) SQLite store directly in SQL: flipped bits in any column,
truncated or garbage envelopes, swapped, deleted and inserted events, a lone surrogate escape in a
signed text field. For every mutation both commands must exit 1 with named findings, and never
raise (no traceback, no exit code other than 0/1).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ledger.application import Ledger
from api.cli import app
from ledger.application.checkpoints import sign_checkpoint
from tests.scenario import build_region, redeem, serve

runner = CliRunner()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A small region (key events, members, sessions, a redemption), its Merkle log with a signed
    checkpoint and caught-up projections, as a SQLite file; and its number of events."""
    path = tmp_path_factory.mktemp("mutations") / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}")
    region = build_region(ledger, members=1)
    serve(region, region.members[0], 90)
    redeem(region, region.members[0])
    sign_checkpoint(ledger)
    try:
        from projections.projector import Views
    except ImportError:  # pragma: no cover - the projections ship with the ledger
        pass
    else:
        views = Views(ledger)
        views.catch_up()
        views.close()
    rows = ledger.recorder.max_notification_id()
    ledger.close()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path, rows


def copy_of(pristine: tuple[Path, int], where: Path) -> Path:
    target = where / "copy.db"
    shutil.copyfile(pristine[0], target)
    shutil.copyfile(f"{pristine[0]}.masterkey", f"{target}.masterkey")
    return target


def run(command: str, path: Path) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, [command, "--workers", "0", "--json", "--db", f"sqlite:///{path}"])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{command} raised {type(result.exception).__name__}: {result.exception}\n{result.output}")
    assert result.exit_code in (0, 1), (command, result.exit_code, result.output)
    return result.exit_code, json.loads(result.stdout)


def findings(command: str, report: dict[str, Any]) -> list[str]:
    if command == "verify":
        return [f"position={p['position']} aggregate={p['aggregate_id']} version={p['version']}: {p['reason']}"
                for p in report["problems"]]
    return [f"position={d['position']}: [{d['kind']}] {d['detail']}" for d in report["differences"]]


# -- mutations, each (connection, draw) -> the position of the event it damaged, or None ------------------

Mutation = Callable[[sqlite3.Connection, Any, int], "int | None"]
COLUMNS = ("state", "originator_id", "originator_version", "topic")


def _state(connection: sqlite3.Connection, rowid: int) -> bytes:
    return bytes(connection.execute("SELECT state FROM stored_events WHERE rowid=?", (rowid,)).fetchone()[0])


def flip(connection: sqlite3.Connection, data: Any, rows: int) -> int | None:
    rowid = data.draw(st.integers(1, rows), label="row")
    column = data.draw(st.sampled_from(COLUMNS), label="column")
    value = connection.execute(f"SELECT {column} FROM stored_events WHERE rowid=?", (rowid,)).fetchone()[0]
    bit = data.draw(st.integers(0, 7), label="bit")
    if column == "originator_version":
        changed: Any = value ^ (1 << bit)
    else:
        raw = bytearray(value if isinstance(value, bytes) else value.encode())
        raw[data.draw(st.integers(0, len(raw) - 1), label="byte")] ^= 1 << bit
        changed = bytes(raw) if isinstance(value, bytes) else raw.decode("utf-8", "surrogateescape")
    try:
        connection.execute(f"UPDATE stored_events SET {column}=? WHERE rowid=?", (changed, rowid))
    except (sqlite3.IntegrityError, UnicodeEncodeError):
        return None
    return rowid


def truncate(connection: sqlite3.Connection, data: Any, rows: int) -> int:
    rowid = data.draw(st.integers(1, rows), label="row")
    state = _state(connection, rowid)
    connection.execute("UPDATE stored_events SET state=? WHERE rowid=?",
                       (state[: data.draw(st.integers(0, len(state) - 1), label="length")], rowid))
    return rowid


def garbage(connection: sqlite3.Connection, data: Any, rows: int) -> int:
    rowid = data.draw(st.integers(1, rows), label="row")
    state = _state(connection, rowid)
    # keep the magic and the signature sometimes, so the garbage reaches the statement parser
    keep = data.draw(st.sampled_from([0, 4, 68]), label="keep")
    tail = data.draw(st.one_of(st.binary(max_size=64), st.sampled_from([
        b"timeledger/statement/v1\n320102\nMember.Enrolled\n[[[[[[[[[[", b"\n\n\n{}",
        b"timeledger/statement/v1\n\xff\xfe\nX\n{}", b"timeledger/statement/v1\n320102\nX\n" + b"[" * 5000])),
        label="tail")
    connection.execute("UPDATE stored_events SET state=? WHERE rowid=?", (state[:keep] + tail, rowid))
    return rowid


def swap(connection: sqlite3.Connection, data: Any, rows: int) -> int | None:
    first = data.draw(st.integers(1, rows), label="first")
    second = data.draw(st.integers(1, rows), label="second")
    a, b = _state(connection, first), _state(connection, second)
    if a == b:
        return None
    connection.execute("UPDATE stored_events SET state=? WHERE rowid=?", (b, first))
    connection.execute("UPDATE stored_events SET state=? WHERE rowid=?", (a, second))
    return first


def swap_in_aggregate(connection: sqlite3.Connection, data: Any, rows: int) -> int | None:
    """Two events of one record trade places (the stored versions stay where they were)."""
    pairs = connection.execute(
        "SELECT a.rowid, b.rowid FROM stored_events a JOIN stored_events b ON a.originator_id=b.originator_id "
        "AND a.originator_version < b.originator_version ORDER BY a.rowid, b.rowid").fetchall()
    if not pairs:
        return None
    first, second = data.draw(st.sampled_from(pairs), label="pair")
    a, b = _state(connection, first), _state(connection, second)
    connection.execute("UPDATE stored_events SET state=? WHERE rowid=?", (b, first))
    connection.execute("UPDATE stored_events SET state=? WHERE rowid=?", (a, second))
    return first


def delete(connection: sqlite3.Connection, data: Any, rows: int) -> None:
    rowid = data.draw(st.integers(1, rows), label="row")
    connection.execute("DELETE FROM stored_events WHERE rowid=?", (rowid,))
    return None  # a deleted row cannot be named by its position in the store, only by its neighbours or the log


def insert(connection: sqlite3.Connection, data: Any, rows: int) -> int:
    """A copy of an existing event (or garbage) under a new version of its aggregate, or under a new id."""
    rowid = data.draw(st.integers(1, rows), label="row")
    originator_id, topic, state = connection.execute(
        "SELECT originator_id, topic, state FROM stored_events WHERE rowid=?", (rowid,)).fetchone()
    if data.draw(st.booleans(), label="new aggregate"):
        originator_id = bytes(16) if isinstance(originator_id, bytes) else "0" * 32
        version = 1
    else:
        version = connection.execute("SELECT max(originator_version) FROM stored_events WHERE originator_id=?",
                                     (originator_id,)).fetchone()[0] + 1
    if data.draw(st.booleans(), label="garbage"):
        state = data.draw(st.binary(max_size=80), label="state")
    cursor = connection.execute("INSERT INTO stored_events (originator_id, originator_version, topic, state) "
                                "VALUES (?, ?, ?, ?)", (originator_id, version, topic, state))
    return int(cursor.lastrowid)


def surrogate(connection: sqlite3.Connection, data: Any, rows: int) -> int | None:
    """A lone surrogate escape in a signed text field (actor, time, key, type or in the payload)."""
    rowid = data.draw(st.integers(1, rows), label="row")
    state = _state(connection, rowid)
    field = data.draw(st.sampled_from([b'"actor":"', b'"time":"', b'"key":"', b'"region":"', b'"request":"']),
                      label="field")
    at = state.find(field)
    if at < 0:
        return None
    at += len(field)
    connection.execute("UPDATE stored_events SET state=? WHERE rowid=?", (state[:at] + b"\\ud800" + state[at:], rowid))
    return rowid


def retype(connection: sqlite3.Connection, data: Any, rows: int) -> int:
    """SQLite keeps any type in any column: bytes that are not UTF-8 in a text column, text or NULL
    where a version or an envelope belongs."""
    rowid = data.draw(st.integers(1, rows), label="row")
    column = data.draw(st.sampled_from(COLUMNS), label="column")
    value = data.draw(st.sampled_from(["invalid utf-8 text", "blob", "null", "text", "float"]), label="value")
    if value == "invalid utf-8 text":
        connection.execute(f"UPDATE stored_events SET {column}=CAST(? AS TEXT) WHERE rowid=?", (b"\xff\xfe\x80", rowid))
    else:
        replacement = {"blob": b"\x00\xff", "null": None, "text": "\ud800".encode("utf-8", "surrogatepass").hex(),
                       "float": 1.5}[value]
        try:
            connection.execute(f"UPDATE stored_events SET {column}=? WHERE rowid=?", (replacement, rowid))
        except sqlite3.IntegrityError:  # NOT NULL
            connection.execute(f"UPDATE stored_events SET {column}=? WHERE rowid=?", (b"", rowid))
    return rowid


MUTATIONS: dict[str, Mutation] = {"retype": retype, "flip": flip, "truncate": truncate, "garbage": garbage, "swap": swap,
                                  "swap_in_aggregate": swap_in_aggregate, "delete": delete, "insert": insert,
                                  "surrogate": surrogate}


@settings(max_examples=60)
@given(data=st.data(), name=st.sampled_from(sorted(MUTATIONS)), command=st.sampled_from(["verify", "audit"]))
def test_verify_and_audit_report_every_mutation_and_never_crash(pristine, tmp_path_factory, data, name,
                                                                command) -> None:
    path = copy_of(pristine, tmp_path_factory.mktemp("m"))
    with sqlite3.connect(path) as connection:
        damaged = MUTATIONS[name](connection, data, pristine[1])
        changed = connection.total_changes
    assume(changed)
    code, report = run(command, path)
    named = findings(command, report)
    assert code == 1 and named, f"{name} went unnoticed by {command}"
    if damaged is not None and name != "swap_in_aggregate":  # a swap within one record may be named at its partner
        assert any(f"position={damaged} " in line or f"position={damaged}:" in line for line in named), (
            damaged, named)
    if command == "audit" and not report["complete"]:  # e.g. the projections cannot take in a garbage row
        assert report["incomplete"] and all(isinstance(reason, str) for reason in report["incomplete"]), report


def test_a_lone_surrogate_in_an_actor_is_named_by_parallel_verify(pristine, tmp_path: Path) -> None:
    """The crash seen in the field: UnicodeEncodeError inside a worker process, naming no event."""
    path = copy_of(pristine, tmp_path)
    with sqlite3.connect(path) as connection:
        rowid, state = connection.execute("SELECT rowid, state FROM stored_events WHERE rowid=5").fetchone()
        at = bytes(state).find(b'"actor":"') + len(b'"actor":"')
        connection.execute("UPDATE stored_events SET state=? WHERE rowid=?",
                           (bytes(state)[:at] + b"\\ud800" + bytes(state)[at:], rowid))
    for workers in ("2", "0"):
        result = runner.invoke(app, ["verify", "--workers", workers, "--json", "--db", f"sqlite:///{path}"])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert result.exit_code == 1, result.output
        problems = json.loads(result.stdout)["problems"]
        assert any(p["position"] == 5 for p in problems), problems
        result = runner.invoke(app, ["verify", "--workers", workers, "--db", f"sqlite:///{path}"])
        assert result.exit_code == 1 and "position=5" in result.output, result.output
