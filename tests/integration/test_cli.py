"""The `timeledger` CLI as a user runs it: init, demo, verify (clean and tampered), erase, export-root."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_init_verify_export_and_refuse_a_second_init(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    code, output = run("init", "--region", "320104", "--name", "南京市秦淮区", "--db", db)
    assert code == 0, output
    assert (tmp_path / "r.db.province.key").stat().st_mode & 0o777 == 0o600
    assert run("init", "--region", "320104", "--name", "秦淮区", "--db", db)[0] == 1
    assert run("keys", "export-root", "--out", str(tmp_path / "root.pub"), "--db", db)[0] == 0
    code, output = run("verify", "--trust", str(tmp_path / "root.pub"), "--db", db)
    assert code == 0 and "OK" in output


def test_bad_region_code_is_a_clear_error_and_changes_nothing(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'bad.db'}"
    code, output = run("init", "--region", "999999", "--name", "x", "--db", db)
    assert code == 1 and "GB/T 2260" in output
    assert run("info", "--db", db)[0] == 2


def test_demo_then_tamper_then_verify_names_the_event(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    db = f"sqlite:///{path}"
    code, output = run("demo", "--members", "30", "--db", db)
    assert code == 0, output
    code, output = run("verify", "--db", db, "--workers", "0")
    assert code == 0 and "every event verifies" in output
    connection = sqlite3.connect(path)
    rowid, state = connection.execute("SELECT rowid, state FROM stored_events WHERE topic LIKE '%Redeemed' "
                                      "LIMIT 1").fetchone()
    connection.execute("UPDATE stored_events SET state=? WHERE rowid=?",
                       (state.replace(b'"minutes":', b'"minutes":1', 1), rowid))
    connection.commit()
    connection.close()
    code, output = run("verify", "--db", db, "--workers", "0")
    assert code == 1
    assert f"position={rowid}" in output and "TimeAccount.Redeemed" in output


def test_erase_personal_data_from_the_cli(tmp_path: Path) -> None:
    from ledger.application import Ledger

    db = f"sqlite:///{tmp_path / 'e.db'}"
    assert run("demo", "--members", "12", "--db", db)[0] == 0
    ledger = Ledger(db)
    member_id = next(m for m in _members(ledger) if ledger.get_member(m).personal)
    code, output = run("erase-personal-data", "--member", str(member_id), "--db", db)
    assert code == 0, output
    assert Ledger(db).secrets.data_key_erased(member_id)
    assert run("erase-personal-data", "--member", "not-an-id", "--db", db)[0] == 1


def _members(ledger):
    for notification in ledger.recorder.select_notifications(start=1, limit=100000):
        if notification.topic.endswith("Member.Enrolled"):
            yield UUID(str(notification.originator_id))


def test_a_crash_mid_write_leaves_a_store_that_verifies(tmp_path: Path) -> None:
    """Kill the demo generator at random moments: every committed transaction verifies."""
    path = tmp_path / "crash.db"
    env = dict(os.environ, TIMELEDGER_DATABASE_URL=f"sqlite:///{path}")
    for events_before_kill in (300, 1500):
        process = subprocess.Popen([sys.executable, "-m", "api.cli", "demo", "--members", "400"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_events(path, events_before_kill, process)
        process.send_signal(signal.SIGKILL)
        process.wait()
        code, output = run("verify", "--workers", "0", "--db", f"sqlite:///{path}")
        assert code == 0, output
        for suffix in ("", "-wal", "-shm", ".masterkey", ".province.key"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def _wait_for_events(path: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    """Wait (bounded) until the writer has committed `count` events, however loaded the machine."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
            committed = connection.execute("SELECT count(*) FROM stored_events").fetchone()[0]
            connection.close()
        except sqlite3.Error:
            committed = 0
        if committed >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"the demo did not reach {count} events")


def test_a_demo_year_that_has_not_begun_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    """Events signed in the future would predate nothing yet and be followed by real events signed
    earlier; the demo refuses a year after the clock's (2100 is after any test run's clock)."""
    db = f"sqlite:///{tmp_path / 'future.db'}"
    code, output = run("demo", "--members", "10", "--year", "2100", "--db", db)
    assert code == 2 and "demo_year_in_future" in output
    assert run("info", "--db", db)[0] == 2  # no region was made


def test_init_refuses_up_front_when_a_province_key_file_is_in_the_way(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    (tmp_path / "k.db.province.key").write_text("someone else's key\n")
    code, output = run("init", "--region", "320104", "--name", "南京市秦淮区", "--db", db)
    assert code == 2 and "already exists" in output
    assert run("info", "--db", db)[0] == 2  # no region without its root key
    assert (tmp_path / "k.db.province.key").read_text() == "someone else's key\n"
