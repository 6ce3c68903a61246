"""One writer process per database (issue #10, defect 10): a second `timeledger serve` on the same
database is refused with a clear message; the lock goes with the process, even after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from api.loadgen import free_port, wait_until_up
from ledger.storage.database import WriterLock, WriterLockHeld, parse_database_url
from tests.conftest import store_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    yield from store_url(request.param, tmp_path)


def test_a_second_writer_lock_is_refused_until_the_first_is_released(url: str) -> None:
    database = parse_database_url(url)
    first = WriterLock(database).acquire()
    with pytest.raises(WriterLockHeld) as refused:
        WriterLock(database).acquire()
    assert refused.value.code == "writer_lock_held" and "同一数据库只允许一个写入进程" in str(refused.value)
    first.release()
    with WriterLock(database):
        pass


def test_another_database_or_schema_has_its_own_lock(tmp_path: Path) -> None:
    with WriterLock(parse_database_url(f"sqlite:///{tmp_path / 'a.db'}")):
        with WriterLock(parse_database_url(f"sqlite:///{tmp_path / 'b.db'}")):
            pass
    one = WriterLock(parse_database_url("postgresql://postgres@127.0.0.1/test?schema=one"))
    other = WriterLock(parse_database_url("postgresql://postgres@127.0.0.1/test?schema=other"))
    assert one.advisory_key() != other.advisory_key()


def _serve(db: str, port: int, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMELEDGER_")}
    env.update(PYTHONPATH=str(ROOT), COLUMNS="200", TIMELEDGER_MASTER_KEY_FILE=str(cwd / "master.key"))
    return subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--db", db, "--port", str(port),
                             "--log-level", "warning"], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def test_a_second_serve_is_refused_and_serves_after_the_first_is_killed(url: str, tmp_path: Path) -> None:
    first = _serve(url, free_port(), tmp_path)
    try:
        port = free_port()
        wait_until_up("127.0.0.1", _port_of(first), timeout=120)
        second = _serve(url, port, tmp_path)
        _, stderr = second.communicate(timeout=120)
        assert second.returncode == 2 and "writer_lock_held" in stderr, stderr
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        third = _serve(url, port, tmp_path)
        try:
            wait_until_up("127.0.0.1", port, timeout=120)
            assert third.poll() is None
        finally:
            third.terminate()
            third.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=30)


def _port_of(process: subprocess.Popen[str]) -> int:
    return int(process.args[process.args.index("--port") + 1])  # type: ignore[union-attr]  # the test knows it is there
