"""补录 (issue #15, the paper backlog): an office imports lines of members' paper record cards from the
template; a wrong row writes nothing and is named (row, column, Chinese message); --partial writes the
good rows; re-importing changes nothing; imported sessions are the office's signed, certified act,
marked imported with the file's SHA-256; the store still verifies."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from uuid import uuid4

import pytest
from typer.testing import CliRunner

from ledger.application import Ledger
from ledger.commands import paper
from ledger.domain.errors import InvalidInput
from ledger.domain.service_session import ServiceSession
from ledger.domain.values import Assurance
from ledger.domain.scoring import POLICY_V1_RULES
from ledger.verification.store import verify_store
from projections import queries as q
from projections.projector import Views
from projections.reports import feedback
from tests.projections.helpers import clean_rebuild, differences, dump, fresh_views
from tests.scenario import Region, at_day, build_region, serve


TODAY = date(2026, 12, 1)  # the clock is pinned: the cards are of 2026, imported on 1 December


@pytest.fixture(autouse=True)
def pinned_clock() -> Iterator[None]:
    with at_day(TODAY):
        yield


@pytest.fixture
def region() -> Region:
    return build_region(Ledger("memory:"), members=2)


def _csv(rows: list[list[str]], header: tuple[str, ...] = paper.HEADERS) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([list(header), *rows])
    return buffer.getvalue().encode("utf-8-sig")


def _line(region: Region, index: int = 0, *, day: str = "2026-03-08", start: str = "08:30", end: str = "10:00",
          minutes: str = "90", rating: str = "优", content: str = "清理楼道杂物", name: str | None = None) -> list[str]:
    member = region.members[index]
    return [str(member.actor_id), name if name is not None else f"党员{index + 1}", day, start, end, content,
            "紫鑫城社区3栋", minutes, rating, "王主任"]


def _imported(region: Region, data: bytes) -> list[ServiceSession]:
    cards, problems = paper.parse_rows(list(csv.reader(io.StringIO(data.decode("utf-8-sig")))))
    assert problems == []
    sessions = [region.ledger.get_session(card.session_id(region.community.actor_id)) for card, _ in cards]
    assert all(session.assurance is Assurance.IMPORTED for session in sessions)
    return sessions


def test_a_clean_file_is_imported_certified_and_signed_by_the_office(region: Region) -> None:
    ledger = region.ledger
    before = [ledger.get_balance_minutes(member.actor_id) for member in region.members]
    data = _csv([_line(region, 0), _line(region, 1, minutes="1:15", start="14:00", end="15:30", rating="良")])
    outcome = paper.import_sessions(ledger, region.community, data, "cards.csv")
    assert outcome.problems == [] and (outcome.written, outcome.already, outcome.rows) == (2, 0, 2)
    after = [ledger.get_balance_minutes(member.actor_id) for member in region.members]
    assert [b - a for a, b in zip(before, after)] == [90, 75]
    sessions = _imported(region, data)
    assert len(sessions) == 2
    for session in sessions:
        assert session.status == ServiceSession.CERTIFIED and session.certified_by == region.community.actor_id
        assert session.source is not None and session.source["file_sha256"] == paper.sha256_of(data)
        assert session.source["signed_by"] == "王主任" and not session.late
    report = verify_store(ledger.database, root_public_key=region.root_public_key, region_code=ledger.region_code,
                          recorder=ledger.recorder, workers=0)
    assert report.ok, report.problems[:3]


def test_the_same_file_again_changes_nothing(region: Region) -> None:
    data = _csv([_line(region, 0), _line(region, 1)])
    paper.import_sessions(region.ledger, region.community, data, "cards.csv")
    position = region.ledger.recorder.max_notification_id()
    again = paper.import_sessions(region.ledger, region.community, data, "cards.csv")
    assert (again.written, again.already, again.problems) == (0, 2, [])
    assert region.ledger.recorder.max_notification_id() == position


def test_a_wrong_row_writes_nothing_and_is_named_in_chinese(region: Region) -> None:
    position = region.ledger.recorder.max_notification_id()
    data = _csv([_line(region, 0),
                 _line(region, 1, minutes="150"),  # more than end − start (90)
                 _line(region, 0, day="2026-13-01", rating="好"),
                 [str(uuid4()), "", "2026-03-09", "08:00", "09:00", "义诊", "社区卫生站", "60", "优", ""],
                 _line(region, 1, name="张三", day="2026-03-10")])
    outcome = paper.import_sessions(region.ledger, region.community, data, "cards.csv")
    assert region.ledger.recorder.max_notification_id() == position, "nothing written"
    by_row = {(problem.row, problem.column): problem.message for problem in outcome.problems}
    assert by_row[(3, "")].startswith("服务分钟数 150 超过起止时间之差 90")
    assert "日期格式不对" in by_row[(4, "年月日")] and by_row[(4, "评价（优/良/一般）")] == "评价只能是 优、良 或 一般"
    assert by_row[(5, "")] == "本地区没有这个党员编号"
    assert by_row[(6, "在职党员姓名")] == "姓名与党员编号不符"
    assert 2 not in {problem.row for problem in outcome.problems}
    for problem in outcome.problems:  # Chinese for the office: no English fragments
        assert not any(word in problem.message for word in ("minutes", "exceed", "not found", "member ")), problem


def test_partial_writes_the_good_rows_only(region: Region) -> None:
    data = _csv([_line(region, 0), _line(region, 1, minutes="abc"), _line(region, 1, day="2026-03-09")])
    outcome = paper.import_sessions(region.ledger, region.community, data, "cards.csv", partial=True)
    assert outcome.written == 2 and [problem.row for problem in outcome.problems] == [3]
    assert "服务时长应为整数分钟" in outcome.problems[0].message


def test_duplicate_lines_in_one_file_and_dry_run(region: Region) -> None:
    position = region.ledger.recorder.max_notification_id()
    data = _csv([_line(region, 0), _line(region, 0)])
    outcome = paper.import_sessions(region.ledger, region.community, data, "cards.csv", dry_run=True)
    assert [str(problem) for problem in outcome.problems] == ["第 3 行：与第 2 行完全相同（重复的记录）"]
    clean = paper.import_sessions(region.ledger, region.community, _csv([_line(region, 0)]), "c.csv", dry_run=True)
    assert clean.problems == [] and clean.written == 0
    assert region.ledger.recorder.max_notification_id() == position


@pytest.mark.parametrize("data, name, expected", [
    (b"%PDF-1.7 binary", "card.pdf", "这是 PDF 文件"),
    (b"\xff\xfe\x00\x00garbage\x00", "x.csv", "文件不是"),
    (b"PK\x03\x04not a zip", "x.xlsx", "无法读取该 Excel 文件"),
    ("姓名,日期\n张三,2026-01-01\n".encode(), "x.csv", "表头与模板不符"),
    (b"", "x.csv", "文件是空的"),
])
def test_files_that_are_not_the_template_are_named_not_crashed(region: Region, data: bytes, name: str,
                                                                expected: str) -> None:
    outcome = paper.import_sessions(region.ledger, region.community, data, name)
    assert outcome.written == 0 and expected in str(outcome.problems[0]), outcome.problems


def test_only_a_community_imports_and_only_its_own_members(region: Region) -> None:
    with pytest.raises(InvalidInput):
        paper.import_sessions(region.ledger, region.unit, _csv([_line(region, 0)]), "c.csv")
    from ledger.application import setup

    other = setup.paired_unit_and_community(region.ledger, region.region, unit_name="另一单位",
                                            community_name="另一社区", street="另一街道")[1]
    outcome = paper.import_sessions(region.ledger, other, _csv([_line(region, 0)]), "c.csv")
    assert [problem.message for problem in outcome.problems] == ["该党员未在本社区报到登记"]


def test_the_xlsx_template_round_trips(region: Region, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    template = tmp_path / "模板.xlsx"
    paper.write_template(template)
    workbook = load_workbook(template)
    sheet = workbook.worksheets[0]
    assert [cell.value for cell in sheet[1]] == list(paper.HEADERS)
    line = _line(region, 0)
    sheet.append([line[0], line[1], date(2026, 3, 8), "08:30", "10:00", line[5], line[6], 90, "优", "王主任"])
    filled = tmp_path / "filled.xlsx"
    workbook.save(filled)
    outcome = paper.import_sessions(region.ledger, region.community, filled.read_bytes(), filled.name)
    assert outcome.problems == [] and outcome.written == 1


def test_the_cli_reports_in_chinese_and_exits_non_zero_on_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    from api.cli import app

    monkeypatch.setenv("TIMELEDGER_MASTER_KEY_FILE", str(tmp_path / "master.key"))
    db = f"sqlite:///{tmp_path / 'paper.db'}"
    ledger = Ledger(db)
    try:
        region = build_region(ledger, members=1)
        community = str(region.community.actor_id)
        good = _csv([_line(region, 0)])
        bad = _csv([_line(region, 0, rating="很好")])
    finally:
        ledger.close()
    runner = CliRunner()
    template = tmp_path / "t.csv"
    assert runner.invoke(app, ["import", "template", "sessions", "--out", str(template)]).exit_code == 0
    assert template.read_text(encoding="utf-8-sig").splitlines()[0] == ",".join(paper.HEADERS)
    (tmp_path / "bad.csv").write_bytes(bad)
    answer = runner.invoke(app, ["import", "sessions", str(tmp_path / "bad.csv"), "--community", community, "--db", db])
    assert answer.exit_code == 1 and "第 2 行「评价（优/良/一般）」：评价只能是 优、良 或 一般" in answer.output
    assert "有错误，未写入任何记录" in answer.output
    (tmp_path / "good.csv").write_bytes(good)
    answer = runner.invoke(app, ["import", "sessions", str(tmp_path / "good.csv"), "--community", community, "--db", db])
    assert answer.exit_code == 0 and "新写入 1 行" in answer.output, answer.output


def test_the_record_card_shows_imported_lines_as_such(region: Region) -> None:
    from projections.reports import card

    paper.import_sessions(region.ledger, region.community, _csv([_line(region, 0)]), "cards.csv")
    views = fresh_views(region.ledger)
    views.rebuild()
    report = card(views, year=2026, member_id=str(region.members[0].actor_id))
    rows = report.sections[0].items[0].rows
    imported = [row for row in rows if row["date"] == date(2026, 3, 8)]
    assert len(imported) == 1 and imported[0]["certified_by"] == "认证：紫鑫城社区党组织\n纸质记录导入\n2026年12月1日"
    assert imported[0]["minutes"] == 90


def test_the_region_overview_breaks_hours_down_by_assurance(region: Region) -> None:
    from projections.reports import overview

    serve(region, region.members[1], 30)  # typed afterwards: self-reported
    paper.import_sessions(region.ledger, region.community, _csv([_line(region, 0)]), "cards.csv")
    views = fresh_views(region.ledger)
    views.rebuild()
    report = overview(views, year=2026)
    table = next(item for section in report.sections for item in section.items
                 if getattr(item, "name", "") == "按记录方式服务时长")
    assert [(row["assurance"], row["sessions"], row["minutes"], row["share"]) for row in table.rows] == [
        ("事后填报", 1, 30, "25.0%"), ("签到签退", 0, 0, "0.0%"), ("纸质记录导入", 1, 90, "75.0%")]


def test_a_certificate_carries_and_shows_the_assurance_of_each_session(region: Region) -> None:
    from ledger.application.certificates import issue_certificate
    from ledger.verification.certificates import verify_certificate
    from projections.render.certificate import certificate_report

    member = region.members[0]
    serve(region, member, 30)
    paper.import_sessions(region.ledger, region.community, _csv([_line(region, 0)]), "cards.csv")
    issued = issue_certificate(region.ledger, member.actor_id, year=2026)
    verified = verify_certificate(issued.bundle, region.root_public_key)  # offline, with the root key alone
    assert sorted(line.assurance for line in verified.sessions) == ["imported", "self_reported"]
    rows = certificate_report(verified).sections[0].items[0].rows
    assert sorted(row["certified_by"] for row in rows) == ["紫鑫城社区", "紫鑫城社区\n纸质记录导入"]


# -- everywhere the assurance shows: the feedback, the member-years, a policy that weighs the classes ----------

def _year(views: Views, region: Region) -> q.MemberYear:
    [my] = q.member_years(views, year=2026, member_id=str(region.members[0].actor_id))
    return my


def test_the_feedback_shows_how_each_members_hours_were_recorded(region: Region) -> None:
    serve(region, region.members[0], 30)  # typed afterwards
    paper.import_sessions(region.ledger, region.community, _csv([_line(region, 0)]), "cards.csv")
    views = fresh_views(region.ledger)
    views.rebuild()
    assert _year(views, region).minutes_by_assurance == {"self_reported": 30, "checked_in": 0, "imported": 90}
    report = feedback(views, year=2026, require_consent=False)
    rows = [row for section in report.sections for item in section.items for row in getattr(item, "rows", [])]
    by_name = {row["name"]: row for row in rows}
    member = region.ledger.get_member(region.members[0].actor_id)
    assert by_name[member.name]["assurance"] == "事后填报 0:30\n纸质记录导入 1:30"
    others = [row["assurance"] for name, row in by_name.items() if name != member.name]
    assert others and set(others) == {"—"}  # no certified hours: nothing to break down


def test_a_published_policy_weighs_imported_hours_and_v1_scores_as_before(region: Region) -> None:
    ledger = region.ledger
    serve(region, region.members[0], 30)
    paper.import_sessions(region.ledger, region.community, _csv([_line(region, 0)]), "cards.csv")
    views = fresh_views(ledger)
    views.rebuild()
    before = _year(views, region)
    assert before.policy_version == 1
    ledger.publish_scoring_policy(actor=region.region, version=2, note="补录按半数计", from_year=2026, rules={
        **POLICY_V1_RULES, "assurance_factor_permille": {"self_reported": 1000, "checked_in": 1000, "imported": 500}})
    views.catch_up()
    after = _year(views, region)
    assert after.policy_version == 2
    # the imported 90 minutes rated 优: 1.5 h × 10 × 1.2 = 18 points under v1, half of it under v2
    assert before.points is not None and after.points == before.points - 9
    assert differences(dump(views), clean_rebuild(ledger)) == {}  # caught up as a rebuild computes it
