"""党员入册 from paper (issue #15, part 3): a unit imports its roster like an office's paper backlog. The
template round-trips (xlsx and csv); a file with a wrong row writes nothing and names every bad row (row,
column, Chinese); --partial writes the good rows; a member's code comes from the unit and the roster
number, so importing again changes nothing and a roster number enrolled under another name is reported;
every enrolment is the unit's signed act; only a unit imports a roster; a thrown-away check leaves no
private key behind."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ledger.application import Ledger
from ledger.commands import paper
from ledger.commands.paper_roster import ENROLMENTS, ROSTER_COLUMNS, roster_member_id
from ledger.domain.errors import InvalidInput
from ledger.domain.values import PartyStatus
from ledger.signing.statement import parse_signed_bytes, unpack
from ledger.storage.secrets import actor_keys
from ledger.verification.store import verify_store
from tests.scenario import Region, at_day, build_region

TODAY = date(2026, 12, 1)
HEADERS = tuple(name for name, _ in ROSTER_COLUMNS)


@pytest.fixture
def region() -> Iterator[Region]:
    with at_day(TODAY):  # the clock pinned while the test runs
        yield build_region(Ledger("memory:"), members=0)


def _roster(*rows: tuple[str, ...]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([list(HEADERS), *[list(row) for row in rows]])
    return buffer.getvalue().encode("utf-8-sig")


def _key_rows(ledger: Ledger) -> int:
    with ledger.secrets.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(actor_keys)).scalar_one())


GOOD = (("1", "王建国", "正式", "处长"), ("2", "李红", "预备", ""), ("003", "张伟", "正式党员", "科员"))


def test_a_clean_roster_is_enrolled_by_the_unit_with_codes_from_the_roster_numbers(region: Region) -> None:
    ledger = region.ledger
    unit = region.unit.actor_id
    position = ledger.recorder.max_notification_id()
    outcome = paper.import_file(ENROLMENTS, ledger, region.unit, _roster(*GOOD), "名册.csv")
    assert outcome.problems == [] and (outcome.rows, outcome.written, outcome.already) == (3, 3, 0)
    assert [(entry.number, entry.name) for entry in outcome.new] == [("1", "王建国"), ("2", "李红"), ("3", "张伟")]
    member = ledger.get_member(roster_member_id(unit, "3"))  # "003" and "3" are one roster entry
    assert (member.name, member.unit_id, member.party_status, member.job_title) == (
        "张伟", unit, PartyStatus.FULL, "科员")
    assert ledger.get_member(roster_member_id(unit, "2")).party_status is PartyStatus.PROBATIONARY
    assert ledger.secrets.active_key(roster_member_id(unit, "1")) is not None  # the unit certified the key
    written = [parse_signed_bytes(unpack(row.state)[1])
               for row in ledger.recorder.select_notifications(start=position + 1, limit=1000)]
    assert {statement.type for statement in written} == {"Member.Enrolled", "Key.Registered"}
    assert {(statement.actor, statement.role) for statement in written} == {(str(unit), "unit")}  # the unit signs
    report = verify_store(ledger.database, root_public_key=region.root_public_key, region_code=ledger.region_code,
                          recorder=ledger.recorder, workers=0)
    assert report.ok, report.problems[:3]


def test_the_same_roster_again_changes_nothing(region: Region) -> None:
    ledger = region.ledger
    paper.import_file(ENROLMENTS, ledger, region.unit, _roster(*GOOD), "名册.csv")
    position, keys = ledger.recorder.max_notification_id(), _key_rows(ledger)
    again = paper.import_file(ENROLMENTS, ledger, region.unit, _roster(*GOOD[::-1]), "名册-副本.csv")
    assert (again.written, again.already, again.problems, again.new) == (0, 3, [], [])
    assert ledger.recorder.max_notification_id() == position and _key_rows(ledger) == keys
    grown = paper.import_file(ENROLMENTS, ledger, region.unit, _roster(*GOOD, ("4", "赵敏", "正式", "")), "名册.csv")
    assert (grown.written, grown.already) == (1, 3) and [entry.name for entry in grown.new] == ["赵敏"]


def test_a_file_with_errors_writes_nothing_and_names_every_bad_row(region: Region) -> None:
    ledger = region.ledger
    position, keys = ledger.recorder.max_notification_id(), _key_rows(ledger)
    data = _roster(("1", "王建国", "正式", "处长"),
                   ("", "无序号", "正式", ""),
                   ("5", "", "党员", ""),
                   ("1", "李红", "预备", ""),
                   ("320102198001011234", "身份证", "正式", ""),
                   ("7", "名" * 65, "正式", "职" * 65),
                   ("8", "\u202e反转", "预备", ""),
                   ("9 号", "空格", "正式", ""))
    outcome = paper.import_file(ENROLMENTS, ledger, region.unit, data, "名册.csv")
    assert ledger.recorder.max_notification_id() == position, "nothing written"
    assert _key_rows(ledger) == keys, "the thrown-away check leaves no private key in the store"
    by_row: dict[int, dict[str, str]] = {}
    for problem in outcome.problems:
        by_row.setdefault(problem.row, {})[problem.column] = problem.message
    assert sorted(by_row) == [3, 4, 5, 6, 7, 8, 9], by_row  # row 2 is good
    assert by_row[3] == {"名册序号": "请填写名册序号（本单位名册上的序号，每人一个）"}
    assert by_row[4] == {"姓名": "不能为空", "党员身份": "党员身份只能是 正式 或 预备"}
    assert by_row[5] == {"": "与第 2 行的名册序号相同（每人一个序号）"}
    assert by_row[6] == {"名册序号": "请勿填写身份证号或手机号：名册序号是本单位名册上的序号"}
    assert by_row[7] == {"姓名": "超过 64 个字", "职务": "超过 64 个字"}
    assert set(by_row[8]) == {"姓名"} and "控制字符" in by_row[8]["姓名"]  # the ledger's own rule, its column
    assert by_row[9] == {"名册序号": "名册序号只能含文字、数字和 - . / #"}
    for problem in outcome.problems:
        assert "320102198001011234" not in str(problem)
        assert not any(word in problem.message for word in ("name ", "not found", "must")), problem
    assert str(outcome.problems[0]) == "第 3 行「名册序号」：请填写名册序号（本单位名册上的序号，每人一个）"


def test_partial_writes_the_good_rows(region: Region) -> None:
    ledger = region.ledger
    data = _roster(("1", "王建国", "正式", ""), ("2", "李红", "候补", ""), ("3", "张伟", "预备", ""))
    outcome = paper.import_file(ENROLMENTS, ledger, region.unit, data, "名册.csv", partial=True)
    assert outcome.written == 2 and [problem.row for problem in outcome.problems] == [3]
    assert [entry.number for entry in outcome.new] == ["1", "3"]
    assert ledger.get_member(roster_member_id(region.unit.actor_id, "3")).name == "张伟"
    assert not ledger.recorder.select_events(roster_member_id(region.unit.actor_id, "2"), limit=1)


def test_a_roster_number_enrolled_under_another_name_is_a_conflict_not_a_second_member(region: Region) -> None:
    ledger = region.ledger
    paper.import_file(ENROLMENTS, ledger, region.unit, _roster(*GOOD), "名册.csv")
    position = ledger.recorder.max_notification_id()
    changed = _roster(("1", "王建军", "正式", "处长"), ("2", "李红", "正式", ""), ("3", "张伟", "正式", "副处长"),
                      ("4", "赵敏", "正式", ""))
    outcome = paper.import_file(ENROLMENTS, ledger, region.unit, changed, "名册.csv")
    assert ledger.recorder.max_notification_id() == position
    assert [(p.row, p.column) for p in outcome.problems] == [(2, "姓名"), (3, "党员身份"), (4, "职务")]
    assert outcome.problems[0].message == "该名册序号已入册为另一姓名：同一序号不能换人，新党员请用新的名册序号"
    assert ledger.get_member(roster_member_id(region.unit.actor_id, "1")).name == "王建国"


def test_only_a_unit_imports_a_roster_and_each_unit_its_own(region: Region) -> None:
    from ledger.application import setup

    with pytest.raises(InvalidInput):
        paper.import_file(ENROLMENTS, region.ledger, region.community, _roster(*GOOD), "名册.csv")
    other, _ = setup.paired_unit_and_community(region.ledger, region.region, unit_name="另一单位",
                                               community_name="另一社区", street="另一街道")
    mine = paper.import_file(ENROLMENTS, region.ledger, region.unit, _roster(*GOOD), "名册.csv")
    theirs = paper.import_file(ENROLMENTS, region.ledger, other, _roster(*GOOD), "名册.csv")
    assert mine.written == theirs.written == 3  # the same numbers on two rosters: two sets of members
    assert region.ledger.get_member(roster_member_id(other.actor_id, "1")).unit_id == other.actor_id


def test_the_template_round_trips_as_xlsx_and_csv(region: Region, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    assert paper.template_bytes(".csv", kind=ENROLMENTS).decode("utf-8-sig").splitlines() == [",".join(HEADERS)]
    template = tmp_path / "名册模板.xlsx"
    paper.write_template(template, kind=ENROLMENTS)
    workbook = load_workbook(template)
    sheet = workbook.worksheets[0]
    assert [cell.value for cell in sheet[1]] == list(HEADERS) and sheet.title == "党员入册"
    assert [row[0].value for row in workbook["填写说明"].iter_rows(min_row=2)][:4] == list(HEADERS)
    sheet.append([17, "王建国", "正式", "处长"])  # an Excel number: 17, not "17.0"
    sheet.append(["０１８", "李红", "预备", None])  # full-width digits, as some input methods type them
    filled = tmp_path / "filled.xlsx"
    workbook.save(filled)
    outcome = paper.import_file(ENROLMENTS, region.ledger, region.unit, filled.read_bytes(), filled.name)
    assert outcome.problems == [] and [entry.number for entry in outcome.new] == ["17", "18"]
    assert region.ledger.get_member(roster_member_id(region.unit.actor_id, "18")).name == "李红"


def test_the_cli_enrols_prints_the_codes_and_writes_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.cli import app

    monkeypatch.setenv("TIMELEDGER_MASTER_KEY_FILE", str(tmp_path / "master.key"))
    db = f"sqlite:///{tmp_path / 'roster.db'}"
    ledger = Ledger(db)
    try:
        region = build_region(ledger, members=0)
        unit, community = str(region.unit.actor_id), str(region.community.actor_id)
    finally:
        ledger.close()
    runner = CliRunner()
    template = tmp_path / "t.csv"
    assert runner.invoke(app, ["import", "template", "enrolments", "--out", str(template)]).exit_code == 0
    assert template.read_text(encoding="utf-8-sig").splitlines() == [",".join(HEADERS)]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_roster(("1", "王建国", "正式", ""), ("2", "李红", "团员", "")))
    answer = runner.invoke(app, ["import", "enrolments", str(bad), "--unit", unit, "--db", db])
    assert answer.exit_code == 1 and "第 3 行「党员身份」：党员身份只能是 正式 或 预备" in answer.output
    assert "有错误，未写入任何记录" in answer.output and "党员编号如下" not in answer.output
    refused = runner.invoke(app, ["import", "enrolments", str(bad), "--unit", community, "--db", db])
    assert refused.exit_code != 0 and "不是单位编号" in refused.output  # a community cannot import a roster
    good = tmp_path / "good.csv"
    good.write_bytes(_roster(*GOOD))
    args = ["import", "enrolments", str(good), "--unit", unit, "--db", db]
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0 and "仅检查，未写入" in dry.output and "党员编号如下" not in dry.output
    codes = tmp_path / "codes.csv"
    answer = runner.invoke(app, [*args, "--codes-out", str(codes)])
    assert answer.exit_code == 0 and "新写入 3 行" in answer.output, answer.output
    first = str(roster_member_id(region.unit.actor_id, "1"))
    assert "新入册 3 人" in answer.output and first in answer.output
    lines = list(csv.reader(io.StringIO(codes.read_text(encoding="utf-8-sig"))))
    assert lines[0] == ["名册序号", "姓名", "党员编号"] and lines[1] == ["1", "王建国", first] and len(lines) == 4
    again = runner.invoke(app, [*args, "--codes-out", str(tmp_path / "none.csv")])
    assert again.exit_code == 0 and "新写入 0 行，此前已导入 3 行" in again.output
    assert not (tmp_path / "none.csv").exists()
    partial = tmp_path / "partial.csv"
    partial.write_bytes(_roster(("4", "赵敏", "正式", ""), ("5", "", "正式", "")))
    answer = runner.invoke(app, ["import", "enrolments", str(partial), "--unit", unit, "--db", db, "--partial"])
    assert answer.exit_code == 1 and "新入册 1 人" in answer.output  # the good row's code, then the problem's exit
    assert str(roster_member_id(region.unit.actor_id, "4")) in answer.output


def test_a_roster_imports_on_every_store_and_stores_its_keys_only_when_saved(any_ledger: Ledger) -> None:
    """Memory, SQLite and PostgreSQL: a dry run stores no private key; the import stores one per new
    member (in the batch's one secret-store transaction) and each is active, so the member can sign."""
    with at_day(TODAY):
        region = build_region(any_ledger, members=0)
        keys = _key_rows(any_ledger)
        dry = paper.import_file(ENROLMENTS, any_ledger, region.unit, _roster(*GOOD), "名册.csv", dry_run=True)
        assert (dry.written, dry.problems, _key_rows(any_ledger)) == (0, [], keys)
        outcome = paper.import_file(ENROLMENTS, any_ledger, region.unit, _roster(*GOOD), "名册.csv")
        assert outcome.written == 3 and _key_rows(any_ledger) == keys + 3
        for number in ("1", "2", "3"):
            assert any_ledger.secrets.active_key(roster_member_id(region.unit.actor_id, number)) is not None
