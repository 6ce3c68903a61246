"""`timeledger calendar publish|show`: the region publishes a year's holiday calendar from a file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), terminal_width=200)
    return result.exit_code, result.output


def test_publish_then_show_a_calendar_and_refuse_a_wrong_one(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert run("init", "--region", "320104", "--name", "南京市秦淮区", "--db", db)[0] == 0
    code, output = run("calendar", "show", "--year", "2027", "--db", db)
    assert code == 0 and "Monday–Friday" in output
    good = tmp_path / "2027.json"
    good.write_text(json.dumps({"holidays": ["2027-10-01", "2027-10-04"], "workdays": ["2027-09-26"],
                                "source": "国务院办公厅关于2027年部分节假日安排的通知", "published_on": "2026-11-10"},
                               ensure_ascii=False))
    code, output = run("calendar", "publish", "--year", "2027", "--file", str(good), "--db", db)
    assert code == 0 and "version 1" in output, output
    code, output = run("calendar", "show", "--year", "2027", "--db", db)
    assert code == 0 and "region v1" in output and "2027-09-26" in output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"holidays": [], "workdays": ["2027-10-04"], "source": "x"}))
    code, output = run("calendar", "publish", "--year", "2027", "--file", str(bad), "--db", db)
    assert code == 1 and "invalid_calendar" in output
    (tmp_path / "deep.json").write_text("[" * 5000)
    assert run("calendar", "publish", "--year", "2027", "--file", str(tmp_path / "deep.json"), "--db", db)[0] == 1
    code, output = run("calendar", "show", "--year", "2026", "--db", db)
    assert "shipped" in output and "国务院办公厅关于2026年部分节假日安排的通知" in output
