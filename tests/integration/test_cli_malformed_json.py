"""CLI commands that read JSON files refuse malformed ones with a message and exit 1 (issue #10,
defect 4): a bundle, card, receipt or certificate nested 990 deep, of the wrong types or not JSON at
all never raises, and a refused import changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.application import Ledger
from api.cli import app

runner = CliRunner()
FILES = {
    "deep-array": b"[" * 990,
    "deep-object": b'{"a":' * 990 + b"1" + b"}" * 990,
    "wrong-types": json.dumps({"source": {"code": [1]}, "transfer_id": [], "receipt": 5, "key_id": [],
                               "signature": {}, "code": {}}).encode(),
    "not-json": b"\xff\xfe not json",
    "list": b"[1, 2]",
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("store")
    db = f"sqlite:///{folder / 'r.db'}"
    result = runner.invoke(app, ["init", "--region", "320104", "--name", "南京市秦淮区", "--db", db])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["keys", "export-root", "--out", str(folder / "root.pub"), "--db", db]).exit_code == 0
    return db, folder


def _events(db: str) -> int:
    ledger = Ledger(db)
    try:
        return int(ledger.recorder.max_notification_id() or 0)
    finally:
        ledger.close()


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("command", [["transfer", "import"], ["transfer", "complete"], ["region", "add-peer"],
                                     ["transfer", "void", "6f1c9a52-3d4b-4e0a-9b1f-0c2d3e4f5a6b", "--rejection"],
                                     ["certificate", "verify"]], ids=lambda c: " ".join(c[:2]))
def test_a_malformed_json_file_is_refused_with_exit_1(store: tuple[str, Path], command: list[str], name: str) -> None:
    db, folder = store
    path = folder / f"{name}.json"
    path.write_bytes(FILES[name])
    before = _events(db)
    tail = ["--trust", str(folder / "root.pub")] if command[0] == "certificate" else ["--db", db]
    if command == ["transfer", "import"]:
        tail += ["--receipt", str(folder / "receipt.json")]
    result = runner.invoke(app, [*command, str(path), *tail])
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.output.strip()
    assert _events(db) == before
