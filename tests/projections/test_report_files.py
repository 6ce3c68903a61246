"""The report files people open: PDF (Chinese text, embedded font), XLSX (one sheet per table,
Chinese headers, numbers as numbers), CSV for Excel, JSON rows; and `timeledger report` / `project`."""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from ledger.application import Ledger
from api.cli import app
from projections import reports
from projections.projector import Views
from projections.render import render
from tests.projections.golden import MOBILE_A, YEAR, Golden, build

runner = CliRunner()


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def test_card_pdf_holds_the_form_headers_and_the_rows(shared: tuple[Golden, Views], tmp_path: Path) -> None:
    golden, golden_views = shared
    pdf = render(reports.card(golden_views, year=YEAR, member_id=str(golden.members["A"])), "pdf")
    assert pdf.startswith(b"%PDF") and b"/FontFile2" in pdf  # the CJK font is embedded
    text = pdf_text(pdf, tmp_path)
    for expected in ("在职党员社区服务（活动）记录卡", "年月日", "服务地点", "认证签字", "张甲", "测试单位党委",
                     "紫鑫城社区", "个人累计社区服务活动时间", "4:30", "2026-06-01"):
        assert expected in text, expected


def test_register_and_unit_statistics_pdfs_are_readable_chinese(shared: tuple[Golden, Views], tmp_path: Path) -> None:
    _, golden_views = shared
    text = pdf_text(render(reports.register(golden_views, year=YEAR), "pdf"), tmp_path)
    for expected in ("在职党员社区报到登记表", "姓名", "志愿服务项目", "报到日期", "张甲", "李乙", "钱戊"):
        assert expected in text, expected
    text = pdf_text(render(reports.unit_stats(golden_views, year=YEAR), "pdf"), tmp_path)
    for expected in ("在职党员社区报到情况统计表", "单位名称", "测试单位党委", "长期病"):
        assert expected in text, expected


def test_overview_pdf_has_its_charts(shared: tuple[Golden, Views], tmp_path: Path) -> None:
    _, golden_views = shared
    text = pdf_text(render(reports.overview(golden_views, year=YEAR), "pdf"), tmp_path)
    for expected in ("各单位报到率与参与率", "每月认证服务时长", "各岗位认证服务时长", "星级分布"):
        assert expected in text, expected


def test_xlsx_has_one_sheet_per_table_with_chinese_headers(shared: tuple[Golden, Views]) -> None:
    _, golden_views = shared
    workbook = openpyxl.load_workbook(io.BytesIO(render(reports.stars(golden_views, year=YEAR), "xlsx")))
    assert "积分星级" in workbook.sheetnames and "星级分布" in workbook.sheetnames
    sheet = workbook["积分星级"]
    cells = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    header = next(row for row in cells if row and "姓名" in row)
    assert {"名次", "姓名", "工作单位", "积分", "星级"} <= set(header)
    body = {row[header.index("姓名")]: row for row in cells[cells.index(header) + 1:] if row[0] is not None}
    assert body["张甲"][header.index("星级")] == "★★"
    assert body["张甲"][header.index("服务次数")] == 3  # a number, not text
    register = openpyxl.load_workbook(io.BytesIO(render(reports.register(golden_views, year=YEAR), "xlsx")))
    assert register.sheetnames == ["紫鑫城社区报到登记", "玄武门社区报到登记"]


def test_csv_opens_in_excel_and_json_keeps_minutes(shared: tuple[Golden, Views]) -> None:
    golden, golden_views = shared
    data = render(reports.balances(golden_views), "csv")
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["党员编号", "姓名", "报到社区"]
    document = json.loads(render(reports.balances(golden_views), "json"))
    members = {row["member_id"]: row for row in document["tables"][0]["rows"]}
    a = members[str(golden.members["A"])]
    assert (a["deposited_minutes"], a["redeemed_minutes"], a["available_minutes"]) == (270, 90, 180)


def test_personal_fields_never_reach_the_logs(golden: Golden, golden_views: Views,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    shown = reports.register(golden_views, year=YEAR, personal_data=golden.ledger.member_personal_data)
    for fmt in ("pdf", "xlsx", "csv", "json"):
        render(shown, fmt)  # type: ignore[arg-type]  # each of the four formats
    golden_views.rebuild()
    assert MOBILE_A not in caplog.text
    hidden = render(reports.register(golden_views, year=YEAR), "json").decode()
    assert MOBILE_A not in hidden and "（保密）" in hidden
    assert MOBILE_A in render(shown, "json").decode()


def test_unknown_ids_and_a_card_without_member_are_clear_errors(shared: tuple[Golden, Views]) -> None:
    _, golden_views = shared
    from ledger.domain.errors import InvalidInput, NotFound

    with pytest.raises(NotFound):
        reports.unit_stats(golden_views, year=YEAR, unit_id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(InvalidInput):
        reports.build("card", golden_views, year=YEAR)
    with pytest.raises(InvalidInput):
        reports.build("nonsense", golden_views, year=YEAR)


# -- the CLI --------------------------------------------------------------------------------------


@pytest.fixture
def golden_db(tmp_path: Path) -> tuple[str, Golden, int]:
    """The golden year in a SQLite file, closed (as the CLI finds it); and its number of events."""
    url = f"sqlite:///{tmp_path / 'golden.db'}"
    ledger = Ledger(url)
    golden = build(ledger)
    total = ledger.recorder.max_notification_id() or 0
    ledger.close()
    return url, golden, total


def test_cli_report_prints_json_and_csv_and_writes_pdf_and_xlsx(golden_db: tuple[str, Golden, int],
                                                                tmp_path: Path) -> None:
    url, golden, _ = golden_db
    result = runner.invoke(app, ["report", "balances", "--year", str(YEAR), "--db", url])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert {"member_id", "deposited_minutes", "redeemed_minutes", "available_minutes"} <= set(
        document["tables"][0]["rows"][0])
    result = runner.invoke(app, ["report", "unit-stats", "--year", str(YEAR), "--format", "csv", "--db", url])
    assert result.exit_code == 0 and "测试单位党委,5,2,1,3" in result.stdout
    out = tmp_path / "card.pdf"
    result = runner.invoke(app, ["report", "card", "--year", str(YEAR), "--member", str(golden.members["A"]),
                                 "--out", str(out), "--db", url])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    out = tmp_path / "register.xlsx"
    result = runner.invoke(app, ["report", "register", "--year", str(YEAR), "--community",
                                 str(golden.community1.actor_id), "--out", str(out), "--db", url])
    assert result.exit_code == 0 and openpyxl.load_workbook(out).sheetnames == ["报到登记"]


def test_cli_report_refuses_bad_input(golden_db: tuple[str, Golden, int]) -> None:
    url, _, _ = golden_db
    assert runner.invoke(app, ["report", "card", "--year", str(YEAR), "--db", url]).exit_code == 1
    assert runner.invoke(app, ["report", "card", "--member", "nope", "--db", url]).exit_code == 2
    assert runner.invoke(app, ["report", "weather", "--db", url]).exit_code == 2
    assert runner.invoke(app, ["report", "stars", "--format", "docx", "--db", url]).exit_code == 2


def test_cli_project_catches_up_and_rebuilds(golden_db: tuple[str, Golden, int]) -> None:
    url, _, total = golden_db
    result = runner.invoke(app, ["project", "--page-events", "50", "--db", url])
    assert result.exit_code == 0 and f"position {total}" in result.stdout
    result = runner.invoke(app, ["project", "--db", url])
    assert "caught up: 0 events" in result.stdout
    result = runner.invoke(app, ["project", "--rebuild", "--db", url])
    assert result.exit_code == 0 and f"rebuilt: {total} events" in result.stdout
