"""补录 of the 报到 backlog (issue #15, part 3): paper 登记表 (附件2) and claimed posts, imported by the
community office like its record cards. The templates round-trip (xlsx and csv, Chinese headers in the
form's order); a file with a wrong row writes nothing and names every bad row (row, column, Chinese,
never a personal value); --partial writes the good rows; importing again changes nothing; every fact is
the office's signed registration or claim; personal fields are sealed at rest and the store verifies."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from typer.testing import CliRunner

from ledger.application import Ledger, setup
from ledger.commands import paper
from ledger.commands.paper_forms import MEMBER_COLUMNS, MEMBERS, POST_COLUMNS, POSTS_KIND
from ledger.domain.values import STANDARD_POSTS
from ledger.signing.statement import parse_signed_bytes, unpack
from ledger.verification.store import verify_store
from tests.scenario import Region, at_day, build_region

TODAY = date(2026, 12, 1)
MOBILE = "13912345678"  # a personal value: sealed at rest, never echoed
HOME = "玄武区锁金村7号"
MEMBER_HEADERS = tuple(name for name, _ in MEMBER_COLUMNS)
POST_HEADERS = tuple(name for name, _ in POST_COLUMNS)


@pytest.fixture(autouse=True)
def pinned_clock() -> Iterator[None]:
    with at_day(TODAY):
        yield


def _enrolled(region: Region, count: int) -> list[UUID]:
    """Members the unit enrolled and sent to the community with a slip, not yet registered (their paper
    登记表 is what the office imports)."""
    return [setup.enrol_with_slip(region.ledger, unit=region.unit, community=region.community,
                                  name=f"报到{index + 1}")[0] for index in range(count)]


@pytest.fixture
def region() -> Region:
    return build_region(Ledger("memory:"), members=1)


def _form(member_id: UUID, name: str, **changes: str) -> dict[str, str]:
    row = {"党员编号": str(member_id), "姓名": name, "性别": "女", "民族": "汉族", "健康状况": "健康", "学历": "本科",
           "出生年月": "1977.3", "入党时间": "2008年7月", "工作单位及职务": "省财政厅 科员", "单位地址": "北京东路63号",
           "家庭住址": HOME, "报到社区": "玄武区锁金村街道紫鑫城社区", "认领岗位": f"{STANDARD_POSTS[0]}、{STANDARD_POSTS[4]}",
           "能参加社区服务的时间": "周末", "是否愿意参加社区其他服务": "是", "工作单位联系电话": "025-83331234",
           "本人联系电话/手机": MOBILE, "专业特长": "法律咨询", "兴趣爱好": "书法", "填表日期": "2014-09-12"}
    row.update(changes)
    return row


def _csv(headers: tuple[str, ...], rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([list(headers), *[[row.get(name, "") for name in headers] for row in rows]])
    return buffer.getvalue().encode("utf-8-sig")


def _members(region: Region, *rows: dict[str, str]) -> bytes:
    return _csv(MEMBER_HEADERS, list(rows))


def test_a_clean_file_registers_each_member_as_the_office_with_personal_fields_sealed(region: Region) -> None:
    ledger = region.ledger
    first, second = _enrolled(region, 2)
    data = _members(region, _form(first, "报到1"), _form(second, "报到2", 认领岗位=STANDARD_POSTS[2], 填表日期="",
                                                        是否愿意参加社区其他服务="", 出生年月=""))
    position = ledger.recorder.max_notification_id()
    outcome = paper.import_file(MEMBERS, ledger, region.community, data, "登记表.csv")
    assert outcome.problems == [] and (outcome.rows, outcome.written, outcome.already) == (2, 2, 0)
    written = [parse_signed_bytes(unpack(row.state)[1])
               for row in ledger.recorder.select_notifications(start=position + 1, limit=1000)]
    assert {statement.type for statement in written} == {"Member.Registered", "Member.PostClaimed",
                                                         "TimeAccount.Opened", "ReportSlip.ReceiptSent"}
    assert {(statement.actor, statement.role) for statement in written} == {(str(region.community.actor_id),
                                                                             "community")}  # the office signs
    assert not any(MOBILE in str(statement.payload) or HOME in str(statement.payload) for statement in written)
    member = ledger.get_member(first)
    assert member.community_id == region.community.actor_id
    assert sorted(member.posts.values()) == sorted([STANDARD_POSTS[0], STANDARD_POSTS[4]])
    assert member.reported_on == date(2014, 9, 12) and member.report_late  # after 31 August 2014
    assert member.report_slip is not None
    slip = ledger.get_report_slip(member.report_slip[0])  # the unit's slip: its receipt goes back
    assert (slip.receipt_sent_on, slip.reported_on) == (TODAY, date(2014, 9, 12))
    assert sorted(slip.post_names) == sorted([STANDARD_POSTS[0], STANDARD_POSTS[4]])
    assert member.willing_other_service
    assert member.profile == {"sex": "女", "education": "本科", "party_joined": "2008-07", "available_time": "周末",
                              "specialities": "法律咨询", "hobbies": "书法"}
    assert MOBILE not in str(member.personal) and HOME not in str(member.personal)  # sealed before signing
    assert ledger.member_personal_data(first)["mobile"] == MOBILE
    assert ledger.member_personal_data(first)["birth_month"] == "1977-03"
    other = ledger.get_member(second)
    assert other.reported_on == TODAY and not other.willing_other_service and list(other.posts.values()) == [
        STANDARD_POSTS[2]]
    assert ledger.get_balance_minutes(second) == 0  # the time account is open
    report = verify_store(ledger.database, root_public_key=region.root_public_key, region_code=ledger.region_code,
                          recorder=ledger.recorder, workers=0)
    assert report.ok, report.problems[:3]


def test_the_same_file_again_changes_nothing(region: Region) -> None:
    first, second = _enrolled(region, 2)
    data = _members(region, _form(first, "报到1"), _form(second, "报到2"))
    paper.import_file(MEMBERS, region.ledger, region.community, data, "登记表.csv")
    position = region.ledger.recorder.max_notification_id()
    again = paper.import_file(MEMBERS, region.ledger, region.community, data, "登记表.csv")
    assert (again.written, again.already, again.problems) == (0, 2, [])
    assert region.ledger.recorder.max_notification_id() == position


def test_a_file_with_errors_writes_nothing_and_names_every_bad_row(region: Region) -> None:
    first, second, third = _enrolled(region, 3)
    position = region.ledger.recorder.max_notification_id()
    data = _members(region,
                    _form(first, "报到1"),
                    _form(second, "报到2", 认领岗位="不存在的岗位"),
                    _form(third, "报到3", 出生年月="1977-13", 是否愿意参加社区其他服务="也许"),
                    _form(uuid4(), "张三"),
                    _form(first, "报到1"),
                    _form(third, "李四", 报到社区="另一社区", 出生年月="1980-05"),
                    _form(second, "报到2", 认领岗位="", 党员编号="", 填表日期="2030-01-01", 家庭住址="x" * 201))
    outcome = paper.import_file(MEMBERS, region.ledger, region.community, data, "登记表.csv")
    assert region.ledger.recorder.max_notification_id() == position, "nothing written"
    assert region.ledger.get_member(first).community_id is None
    by_row: dict[int, dict[str, str]] = {}
    for problem in outcome.problems:
        by_row.setdefault(problem.row, {})[problem.column] = problem.message
    assert sorted(by_row) == [3, 4, 5, 6, 7, 8], by_row  # row 2 is good
    assert by_row[3]["认领岗位"].startswith("本社区没有这个岗位：不存在的岗位")
    assert by_row[4] == {"出生年月": "年月格式不对，应如 1980-05", "是否愿意参加社区其他服务": "只能填 是 或 否"}
    assert by_row[5] == {"": "本地区没有这个党员编号"}
    assert by_row[6] == {"": "与第 2 行是同一名党员（每名党员一行）"}
    assert by_row[7] == {"姓名": "姓名与党员编号不符"}
    assert set(by_row[8]) == {"党员编号", "认领岗位", "家庭住址"}
    for problem in outcome.problems:  # Chinese for the office, and never a personal value
        assert MOBILE not in str(problem) and HOME not in str(problem) and "1977" not in str(problem)
        assert not any(word in problem.message for word in ("member ", "not found", "must")), problem


def test_the_ledgers_own_rules_are_reported_against_their_column(region: Region) -> None:
    """The day reported is checked by `register_member` (from the scheme's start to today), not by the
    import: its refusal names the column the field came from."""
    (first,) = _enrolled(region, 1)
    outcome = paper.import_file(MEMBERS, region.ledger, region.community,
                                _members(region, _form(first, "报到1", 填表日期="2013-05-01")), "登记表.csv")
    assert [(problem.column, problem.message) for problem in outcome.problems] == [
        ("填表日期", "须在 2014-01-01 至 2026-12-02 之间")]


def test_partial_writes_the_good_rows_and_a_member_of_another_community_is_refused(region: Region) -> None:
    first, second = _enrolled(region, 2)
    other_unit, other = setup.paired_unit_and_community(region.ledger, region.region, unit_name="另一单位",
                                                        community_name="另一社区", street="另一街道")
    stranger, _ = setup.enrol_with_slip(region.ledger, unit=other_unit, community=other, name="外来")
    data = _members(region, _form(first, "报到1"), _form(stranger, "外来"), _form(second, "报到2", 学历="本科" * 101))
    outcome = paper.import_file(MEMBERS, region.ledger, region.community, data, "登记表.csv", partial=True)
    assert outcome.written == 1 and sorted({problem.row for problem in outcome.problems}) == [3, 4]
    assert "单位的报到单指定党员到另一个社区报到" in str(outcome.problems[0])
    assert region.ledger.get_member(first).community_id == region.community.actor_id
    assert region.ledger.get_member(second).community_id is None


def test_posts_are_claimed_as_the_office_once(region: Region) -> None:
    ledger = region.ledger
    member = region.members[0].actor_id
    rows = [{"党员编号": str(member), "姓名": "党员1", "认领岗位": f"{STANDARD_POSTS[3]}，{STANDARD_POSTS[5]}"},
            {"党员编号": str(member), "姓名": "", "认领岗位": STANDARD_POSTS[7]}]
    data = _csv(POST_HEADERS, rows)
    outcome = paper.import_file(POSTS_KIND, ledger, region.community, data, "岗位.csv")
    assert outcome.problems == [] and outcome.written == 2
    assert {STANDARD_POSTS[3], STANDARD_POSTS[5], STANDARD_POSTS[7]} <= set(ledger.get_member(member).posts.values())
    position = ledger.recorder.max_notification_id()
    again = paper.import_file(POSTS_KIND, ledger, region.community, data, "岗位.csv")
    assert (again.written, again.already, again.problems) == (0, 2, [])
    assert ledger.recorder.max_notification_id() == position
    (unregistered,) = _enrolled(region, 1)
    position = ledger.recorder.max_notification_id()
    bad = _csv(POST_HEADERS, [{"党员编号": str(member), "认领岗位": "扫地岗、\u202e岗\x1b[31m"}, {"党员编号": str(unregistered),
                                                                       "认领岗位": STANDARD_POSTS[0]},
                              {"党员编号": "12", "认领岗位": ""}])
    outcome = paper.import_file(POSTS_KIND, ledger, region.community, bad, "岗位.csv")
    assert ledger.recorder.max_notification_id() == position
    assert [(p.row, p.column) for p in outcome.problems] == [(2, "认领岗位"), (3, ""), (4, "党员编号"), (4, "认领岗位")]
    assert outcome.problems[0].message.startswith("本社区没有这个岗位：扫地岗、（含控制字符的名称）")  # nothing to a terminal


def test_the_templates_round_trip_as_xlsx_and_csv(region: Region, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    (first,) = _enrolled(region, 1)
    for kind, headers in ((MEMBERS, MEMBER_HEADERS), (POSTS_KIND, POST_HEADERS)):
        csv_text = paper.template_bytes(".csv", kind=kind).decode("utf-8-sig")
        assert csv_text.splitlines() == [",".join(headers)]
        assert paper.read_table(paper.template_bytes(".xlsx", kind=kind), "t.xlsx")[0] == list(headers)
    template = tmp_path / "登记表模板.xlsx"
    paper.write_template(template, [(first, "报到1")], kind=MEMBERS)
    workbook = load_workbook(template)
    sheet = workbook.worksheets[0]
    assert [cell.value for cell in sheet[1]] == list(MEMBER_HEADERS) and sheet["A2"].value == str(first)
    form = _form(first, "报到1")
    for index, name in enumerate(MEMBER_HEADERS[2:], start=3):
        sheet.cell(row=2, column=index, value=form[name])
    sheet.cell(row=2, column=MEMBER_HEADERS.index("填表日期") + 1, value=date(2014, 9, 12))  # Excel's own date
    filled = tmp_path / "filled.xlsx"
    workbook.save(filled)
    outcome = paper.import_file(MEMBERS, region.ledger, region.community, filled.read_bytes(), filled.name)
    assert outcome.problems == [] and outcome.written == 1
    assert region.ledger.get_member(first).reported_on == date(2014, 9, 12)


def test_the_cli_imports_members_and_posts_and_prints_no_personal_value(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import app

    monkeypatch.setenv("TIMELEDGER_MASTER_KEY_FILE", str(tmp_path / "master.key"))
    db_path = tmp_path / "forms.db"
    db = f"sqlite:///{db_path}"
    ledger = Ledger(db)
    try:
        region = build_region(ledger, members=0)
        (first,) = _enrolled(region, 1)
        community = str(region.community.actor_id)
    finally:
        ledger.close()
    runner = CliRunner()
    for kind, headers in (("members", MEMBER_HEADERS), ("posts", POST_HEADERS)):
        template = tmp_path / f"{kind}.csv"
        assert runner.invoke(app, ["import", "template", kind, "--out", str(template)]).exit_code == 0
        assert template.read_text(encoding="utf-8-sig").splitlines()[0] == ",".join(headers)
    (tmp_path / "bad.csv").write_bytes(_members(region, _form(first, "报到1", 出生年月="五月")))
    answer = runner.invoke(app, ["import", "members", str(tmp_path / "bad.csv"), "--community", community,
                                 "--db", db])
    assert answer.exit_code == 1 and "第 2 行「出生年月」：年月格式不对" in answer.output
    assert "有错误，未写入任何记录" in answer.output
    (tmp_path / "good.csv").write_bytes(_members(region, _form(first, "报到1")))
    args = ["import", "members", str(tmp_path / "good.csv"), "--community", community, "--db", db]
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0 and "仅检查，未写入" in dry.output, dry.output
    answer = runner.invoke(app, args)
    assert answer.exit_code == 0 and "新写入 1 行" in answer.output, answer.output
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "新写入 0 行，此前已导入 1 行" in again.output
    posts = tmp_path / "posts.csv"
    posts.write_bytes(_csv(POST_HEADERS, [{"党员编号": str(first), "认领岗位": STANDARD_POSTS[6]}]))
    claimed = runner.invoke(app, ["import", "posts", str(posts), "--community", community, "--db", db])
    assert claimed.exit_code == 0 and "新写入 1 行" in claimed.output
    for output in (answer.output, again.output, dry.output, claimed.output):
        assert MOBILE not in output and HOME not in output
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("forms.db*"))
    assert MOBILE.encode() not in stored and HOME.encode() not in stored  # sealed at rest
