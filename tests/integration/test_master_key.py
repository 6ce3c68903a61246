"""The master key (issue #10, defect 8): a store records the id of the key it was sealed under and
every command — and `serve` — refuses at start-up, before writing anything, to run with another
key; no command creates a new key for a store that already holds sealed data."""

from __future__ import annotations

import base64
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from ledger.storage.secrets import master_key_id
from tests.conftest import store_url

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
OTHER_KEY = base64.b64encode(bytes(range(32))).decode()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELEDGER_")}
    env.update(PYTHONPATH=str(ROOT), COLUMNS="200", **extra)
    return env


def _timeledger(cwd: Path, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=cwd, env=_env(**env), text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _settings(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as connection:
        return dict(connection.execute("SELECT name, value FROM timeledger_settings").fetchall())


def test_the_store_records_a_key_id_not_the_key(tmp_path: Path) -> None:
    assert _timeledger(tmp_path, "init", "--region", "320102", "--name", "南京市玄武区").returncode == 0
    key = base64.b64decode((tmp_path / "timeledger.db.masterkey").read_text())
    recorded = _settings(tmp_path / "timeledger.db")["master_key_id"]
    assert recorded == master_key_id(key)
    assert key.hex() not in recorded and base64.b64encode(key).decode() not in recorded


def test_another_master_key_is_refused_by_commands_and_changes_nothing(tmp_path: Path) -> None:
    assert _timeledger(tmp_path, "init", "--region", "320102", "--name", "南京市玄武区").returncode == 0
    before = (tmp_path / "timeledger.db").read_bytes()
    for command in (["info"], ["verify"], ["logins", "admin"], ["demo", "--members", "10", "--year", "2014"]):
        result = _timeledger(tmp_path, *command, TIMELEDGER_MASTER_KEY=OTHER_KEY)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "master_key_mismatch" in result.stderr and "主密钥" in result.stderr, result.stderr
    assert (tmp_path / "timeledger.db").read_bytes() == before


def test_a_missing_key_file_is_refused_and_no_new_key_is_created(tmp_path: Path) -> None:
    assert _timeledger(tmp_path, "init", "--region", "320102", "--name", "南京市玄武区").returncode == 0
    key_file = tmp_path / "timeledger.db.masterkey"
    key_file.rename(tmp_path / "kept.key")
    result = _timeledger(tmp_path, "info")
    assert result.returncode == 2 and "master_key_missing" in result.stderr, result.stderr
    assert not key_file.exists()
    assert _timeledger(tmp_path, "info", TIMELEDGER_MASTER_KEY_FILE=str(tmp_path / "kept.key")).returncode == 0


def test_a_store_sealed_before_key_ids_checks_a_wrapped_key(tmp_path: Path) -> None:
    """A store without a recorded id: the key must open one of its wrapped keys; then it is recorded."""
    assert _timeledger(tmp_path, "init", "--region", "320102", "--name", "南京市玄武区").returncode == 0
    with sqlite3.connect(tmp_path / "timeledger.db") as connection:
        connection.execute("DELETE FROM timeledger_settings WHERE name = 'master_key_id'")
    result = _timeledger(tmp_path, "info", TIMELEDGER_MASTER_KEY=OTHER_KEY)
    assert result.returncode == 2 and "master_key_mismatch" in result.stderr
    assert "master_key_id" not in _settings(tmp_path / "timeledger.db")
    assert _timeledger(tmp_path, "info").returncode == 0
    assert "master_key_id" in _settings(tmp_path / "timeledger.db")


def test_serve_refuses_to_start_with_another_master_key(tmp_path: Path) -> None:
    assert _timeledger(tmp_path, "init", "--region", "320102", "--name", "南京市玄武区").returncode == 0
    result = _timeledger(tmp_path, "serve", "--port", "1", timeout=60, TIMELEDGER_MASTER_KEY=OTHER_KEY)
    assert result.returncode == 2 and "master_key_mismatch" in result.stderr, result.stderr


@pytest.fixture
def postgres_url(tmp_path: Path):  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    yield from store_url("postgres", tmp_path)


def test_postgres_from_another_directory_is_refused_not_given_a_new_key(postgres_url: str, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    made = _timeledger(first, "init", "--region", "320102", "--name", "南京市玄武区", "--db", postgres_url)
    assert made.returncode == 0, made.stderr
    result = _timeledger(second, "logins", "admin", "--db", postgres_url)
    assert result.returncode == 2 and "master_key_missing" in result.stdout + result.stderr
    assert list(second.iterdir()) == []  # no key file made in the other directory
    served = _timeledger(second, "serve", "--port", "1", "--db", postgres_url, timeout=60,
                         TIMELEDGER_MASTER_KEY=OTHER_KEY)
    assert served.returncode == 2 and "master_key_mismatch" in served.stderr, served.stderr
    key_file = str(first / "timeledger.masterkey")
    assert _timeledger(second, "verify", "--db", postgres_url, TIMELEDGER_MASTER_KEY_FILE=key_file).returncode == 0


def test_database_and_wal_files_are_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIMELEDGER_MASTER_KEY", raising=False)
    path = tmp_path / "ledger.db"
    assert runner.invoke(app, ["demo", "--members", "10", "--db", f"sqlite:///{path}"]).exit_code == 0
    files = [p for p in tmp_path.iterdir() if p.name.startswith("ledger.db")]
    assert path in files
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    path.chmod(0o644)  # an old store made before this rule is tightened on the next start
    assert runner.invoke(app, ["info", "--db", f"sqlite:///{path}"]).exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_serve_demo_keeps_no_province_key_in_the_working_directory(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli.commands import _load_demo
    from api.main import create_app
    from api.services import services_of
    from api.settings import settings_for_tests
    from ledger.application import Ledger

    monkeypatch.chdir(tmp_path)
    ledger = Ledger("memory:")
    app_ = create_app(settings_for_tests(database_url="memory:"), ledger)
    _load_demo(ledger, services_of(app_).auth, members=10, logins_out=tmp_path / "logins.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logins.csv"]
    ledger.close()


def test_serve_demo_writes_the_province_key_only_where_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli.commands import _load_demo
    from api.main import create_app
    from api.services import services_of
    from api.settings import settings_for_tests
    from ledger.application import Ledger
    from ledger.signing import keys as ed25519

    monkeypatch.chdir(tmp_path)
    ledger = Ledger("memory:")
    app_ = create_app(settings_for_tests(database_url="memory:"), ledger)
    offline = tmp_path / "offline" / "root.key"
    offline.parent.mkdir()
    _load_demo(ledger, services_of(app_).auth, members=10, logins_out=tmp_path / "logins.csv", root_key_out=offline)
    assert stat.S_IMODE(offline.stat().st_mode) == 0o600
    root = ed25519.load_private(base64.b64decode(offline.read_text().strip()))
    assert ed25519.b64(ed25519.public_bytes(root.public_key())) == ledger.root_public_key()
    ledger.close()
