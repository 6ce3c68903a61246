"""`timeledger audit` never says yes without comparing everything: lagging projections and an
unlogged tail are caught up first (the default), or the audit is INCOMPLETE (exit 3), never OK."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger.application import Ledger
from api.cli import app
from projections.audit import audit
from ledger.application.checkpoints import sign_checkpoint
from tests.scenario import build_region, serve

runner = CliRunner()
views_module = pytest.importorskip("projections.projector")


@pytest.fixture
def lagging(tmp_path: Path) -> str:
    """A store whose projections and Merkle log stop short of its last events."""
    db = f"sqlite:///{tmp_path / 'a.db'}"
    ledger = Ledger(db)
    region = build_region(ledger, members=1)
    sign_checkpoint(ledger)
    views = views_module.Views(ledger)
    views.catch_up()
    views.close()
    serve(region, region.members[0], 60)  # after the log and the projections
    ledger.close()
    return db


def test_without_catching_up_a_lagging_audit_is_incomplete_not_ok(lagging: str) -> None:
    result = runner.invoke(app, ["audit", "--no-catch-up", "--workers", "0", "--db", lagging])
    assert result.exit_code == 3, result.output
    assert "INCOMPLETE" in result.output and "OK" not in result.output
    result = runner.invoke(app, ["audit", "--no-catch-up", "--workers", "0", "--json", "--db", lagging])
    report = json.loads(result.stdout)
    assert result.exit_code == 3 and report["ok"] is False and report["complete"] is False
    assert any("behind" in reason for reason in report["incomplete"])
    assert any("Merkle log" in reason for reason in report["incomplete"])


def test_by_default_the_audit_catches_up_then_compares_everything(lagging: str) -> None:
    result = runner.invoke(app, ["audit", "--workers", "0", "--json", "--db", lagging])
    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert report["complete"] is True and report["views"] == "yes" and report["unlogged"] == 0, report


def test_an_audit_that_cannot_catch_up_says_incomplete(lagging: str, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes read-only files")
    path = tmp_path / "a.db"
    for file in tmp_path.iterdir():
        file.chmod(stat.S_IRUSR)
    tmp_path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = runner.invoke(app, ["audit", "--workers", "0", "--db", f"sqlite:///{path}"])
        assert result.exit_code in (1, 3) and "INCOMPLETE" in result.output, result.output
    finally:
        tmp_path.chmod(stat.S_IRWXU)


def test_the_api_report_is_not_ok_while_incomplete(lagging: str) -> None:
    ledger = Ledger(lagging)
    try:
        report = audit(ledger, workers=0, catch_up=False)
        assert not report.ok and not report.complete and not report.differences
        report = audit(ledger, workers=0)
        assert report.ok and report.complete, [str(d) for d in report.differences] + report.incomplete
    finally:
        ledger.close()
