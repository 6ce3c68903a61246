"""Backups (issue #10, "nothing lost when the disk is"): back up while a writer runs, restore, and the
restored store verifies, audits and holds exactly the events of a prefix of the source; a restore
that would roll a store back behind a checkpoint it published is refused unless forced."""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import psycopg
import pytest
from typer.testing import CliRunner

from ledger.storage import backup as backups
from ledger.application import Ledger
from api.cli import app
from ledger.storage.database import WriterLock, parse_database_url
from tests.conftest import drop_schema, store_url

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
MASTER_KEY = base64.b64encode(bytes(range(100, 132))).decode()
DEMO_MEMBERS = 60
EVENTS_BEFORE_BACKUP = 400


@pytest.fixture(autouse=True)
def _one_master_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMELEDGER_MASTER_KEY", MASTER_KEY)


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def source(kind: str, tmp_path: Path) -> Iterator[str]:
    yield from store_url(kind, tmp_path / "source")


@pytest.fixture
def other(kind: str, tmp_path: Path) -> Iterator[str]:
    yield from store_url(kind, tmp_path / "other")


@pytest.fixture(autouse=True)
def _dirs(tmp_path: Path) -> None:
    (tmp_path / "source").mkdir()
    (tmp_path / "other").mkdir()


def cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _events(url: str) -> list[tuple[str, int, str, bytes]]:
    database = parse_database_url(url)
    if database.kind == "sqlite":
        with sqlite3.connect(database.sqlite_path or "") as connection:
            rows = connection.execute("SELECT originator_id, originator_version, topic, state FROM stored_events "
                                      "ORDER BY rowid").fetchall()
    else:
        with psycopg.connect(database.libpq_url) as connection:
            rows = connection.execute(f'SELECT originator_id, originator_version, topic, state FROM '
                                      f'"{database.schema}".ledger_events ORDER BY notification_id').fetchall()
    return [(str(r[0]), int(r[1]), str(r[2]), bytes(r[3])) for r in rows]


def _count(url: str) -> int:
    try:
        return len(_events(url))
    except (sqlite3.Error, psycopg.Error):
        return 0


def _start_demo(url: str, cwd: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELEDGER_")}
    env.update(PYTHONPATH=str(ROOT), TIMELEDGER_MASTER_KEY=MASTER_KEY)
    return subprocess.Popen([sys.executable, "-m", "api.cli", "demo", "--members", str(DEMO_MEMBERS),
                             "--year", "2024", "--db", url], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def _wait_for_events(url: str, count: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None and _count(url) < count:
        time.sleep(0.05)
    if _count(url) < count:
        process.kill()
        _, stderr = process.communicate(timeout=60)
        raise AssertionError(f"the writer never got going (exit {process.returncode}): {stderr.decode()[-3000:]}")


def _verify_and_audit(url: str) -> None:
    code, output = cli("verify", "--workers", "0", "--db", url)
    assert code == 0 and "every event verifies" in output, output
    code, output = cli("audit", "--workers", "0", "--catch-up", "--db", url)
    assert code == 0, output


def test_backup_under_writes_restores_a_prefix_that_verifies(source: str, other: str, tmp_path: Path) -> None:
    demo = _start_demo(source, tmp_path)
    try:
        _wait_for_events(source, EVENTS_BEFORE_BACKUP, demo)
        seen: list[tuple[int, int]] = []
        state = backups.backup(parse_database_url(source), tmp_path / "b.backup",
                               progress=lambda done, total: seen.append((done, total)))
        still_writing = demo.poll() is None
    finally:
        _, stderr = demo.communicate(timeout=600)
    assert demo.returncode == 0, stderr
    assert not (tmp_path / "timeledger-province.key").exists()  # never the working directory by default
    assert still_writing, "the backup must run while the writer writes"
    assert seen and seen[-1][0] == seen[-1][1] and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert stat_mode(tmp_path / "b.backup") == 0o600
    full = _events(source)
    _lose(source)
    code, output = cli("restore", str(tmp_path / "b.backup"), "--db", other)
    assert code == 0, output
    restored = _events(other)
    assert len(restored) >= state.events >= EVENTS_BEFORE_BACKUP and len(full) > len(restored)
    assert restored == full[:len(restored)]  # a consistent snapshot: exactly a prefix of the source
    _verify_and_audit(other)


def _lose(url: str) -> None:
    """The disk is gone: a PostgreSQL backup restores into its own schema name, or any name once
    that one is free (README, Backups)."""
    database = parse_database_url(url)
    if database.kind == "postgresql":
        drop_schema(database.schema or "")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database.sqlite_path}{suffix}").unlink(missing_ok=True)


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _small_store(url: str) -> Ledger:
    from ledger.demo import generate

    ledger = Ledger(url)
    generate(ledger, members=12, year=2024, seed=3)
    return ledger


def _checkpoint(url: str) -> None:
    code, output = cli("checkpoint", "--db", url)
    assert code == 0, output


def test_a_restore_behind_a_published_checkpoint_is_refused_unless_forced(source: str, tmp_path: Path) -> None:
    ledger = _small_store(source)
    _checkpoint(source)
    backup_file = tmp_path / "early.backup"
    assert cli("backup", "--out", str(backup_file), "--db", source)[0] == 0
    with ledger.batch():
        ledger.register_auditor(actor=ledger.region_actor(), label="第二审计组")
    ledger.close()
    _checkpoint(source)
    before = _events(source)
    code, output = cli("restore", str(backup_file), "--db", source)
    assert code == 1 and "restore_would_roll_back" in output, output
    assert _events(source) == before  # refused: nothing changed
    _verify_and_audit(source)
    code, output = cli("restore", str(backup_file), "--force", "--db", source)
    assert code == 0 and "forced" in output, output
    assert _events(source) == before[:len(_events(source))] and len(_events(source)) < len(before)
    code, output = cli("verify", "--workers", "0", "--db", source)
    assert code == 0, output


def test_a_restore_over_the_same_store_with_the_same_log_is_accepted(source: str, tmp_path: Path) -> None:
    _small_store(source).close()
    _checkpoint(source)
    assert cli("backup", "--out", str(tmp_path / "b.backup"), "--db", source)[0] == 0
    before = _events(source)
    code, output = cli("restore", str(tmp_path / "b.backup"), "--db", source)
    assert code == 0, output
    assert _events(source) == before
    _verify_and_audit(source)


def test_a_restore_under_another_master_key_is_refused_and_changes_nothing(
        source: str, other: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _small_store(source).close()
    assert cli("backup", "--out", str(tmp_path / "b.backup"), "--db", source)[0] == 0
    _lose(source)
    monkeypatch.setenv("TIMELEDGER_MASTER_KEY", base64.b64encode(bytes(32)).decode())
    code, output = cli("restore", str(tmp_path / "b.backup"), "--db", other)
    assert code == 1 and "master_key_mismatch" in output, output
    assert _count(other) == 0


def test_a_restore_is_refused_while_a_writer_holds_the_store(source: str, tmp_path: Path) -> None:
    _small_store(source).close()
    assert cli("backup", "--out", str(tmp_path / "b.backup"), "--db", source)[0] == 0
    with WriterLock(parse_database_url(source)):
        code, output = cli("restore", str(tmp_path / "b.backup"), "--db", source)
    assert code == 2 and "writer_lock_held" in output, output


def test_a_backup_never_overwrites_and_a_non_backup_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'source' / 's.db'}"
    _small_store(url).close()
    (tmp_path / "exists").write_text("keep me")
    code, output = cli("backup", "--out", str(tmp_path / "exists"), "--db", url)
    assert code == 1 and "backup_exists" in output and (tmp_path / "exists").read_text() == "keep me"
    code, output = cli("restore", str(tmp_path / "exists"), "--db", url)
    assert code == 1 and "not_a_backup" in output

