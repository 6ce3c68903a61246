"""The notice's forms as people print them (issue 11): 附件1 报到单 and 回执单, 附件2 登记表, the
fixes to 附件4 and 附件5, plain words on a member's papers, China time, and names with rare
characters (生僻字) of CJK Extensions A–G on every PDF.

Each PDF is checked through pdftotext (the text of every field) and one page is rendered to PNG
with pdftoppm (kept under tmp_path; `FORMS_PNG_DIR=dir` keeps a copy to look at).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID

import openpyxl
import pytest
from typer.testing import CliRunner

from ledger.application import Actor, Ledger
from api.cli import app
from ledger.demo import at, simulated
from ledger.domain.errors import InvalidInput
from ledger.domain.values import STANDARD_POSTS, Role
from projections import reports
from projections.projector import Views
from projections.render import render
from projections.render.fonts import fallback_fonts, missing_characters
from projections.render.model import china_time

YEAR = 2026
# One name per CJK extension: A 㐀, B 𠮷/𡈼 (the issue's 𠮷野𡈼), C 𪜀, D 𫝀, E 𫠠, F 𬺰, G 𰀀.
RARE_NAMES = {"A": "丁㐀", "B": "𠮷野𡈼", "C": "王𪜀", "D": "李𫝀", "E": "张𫠠", "F": "陈𬺰", "G": "刘𰀀"}
PERSONAL = {"mobile": "13911112222", "home_address": "玄武区龙蟠路9号", "birth_month": "1985-03",
            "ethnicity": "汉族", "health": "良好", "unit_address": "北京东路41号", "unit_phone": "025-83330000"}
runner = CliRunner()


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} (poppler-utils) is not installed")
    return path


def pdf_text(pdf: bytes, tmp_path: Path, name: str = "form", *, page: int | None = None) -> str:
    """The PDF's text with all white space removed (a form wraps its lines where it must)."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    pages = ["-f", str(page), "-l", str(page)] if page else []
    text = subprocess.run([_tool("pdftotext"), *pages, str(path), "-"], check=True, capture_output=True,
                          text=True).stdout
    return flat(text)


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def first_page_png(pdf: bytes, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    subprocess.run([_tool("pdftoppm"), "-r", "60", "-png", "-f", "1", "-l", "1", "-singlefile", str(path),
                    str(tmp_path / name)], check=True)
    png = tmp_path / f"{name}.png"
    keep = os.environ.get("FORMS_PNG_DIR")
    if keep:
        shutil.copy(png, Path(keep) / png.name)
    return png


def ink_ratio(png: Path) -> float:
    """The share of dark pixels of a page: a blank or near-blank page means nothing was drawn."""
    from PIL import Image

    with Image.open(png) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
        return sum(histogram[:128]) / (grey.width * grey.height)


class World:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        with simulated(at(date(YEAR, 1, 2), 9)):
            ledger.init_region(code="320102", name="南京市玄武区")
        region = ledger.region_actor()
        with simulated(at(date(YEAR, 1, 5), 9)):
            ledger.set_report_deadline(actor=region, year=YEAR, deadline=date(YEAR, 8, 31))
            self.unit = Actor(ledger.register_unit(actor=region, name="南京市鼓楼医院", unit_type="事业",
                                                   declared_members=9), Role.UNIT)
            self.community = Actor(ledger.register_community(actor=region, name="紫鑫城社区", county="玄武区",
                                                             street="锁金村街道"), Role.COMMUNITY)
        community = ledger.get_community(self.community.actor_id)
        self.posts = {name: community.post_id(name) for name in ("政策法规宣传岗", "困难群众帮扶岗")}
        self.members: dict[str, UUID] = {}
        self.slips: dict[str, UUID] = {}
        with simulated(at(date(YEAR, 3, 2), 9)):
            for key, name in (("main", "曹顺仙"), *RARE_NAMES.items()):
                self.members[key] = ledger.enrol_member(actor=self.unit, name=name,
                                                        party_status="预备" if key == "main" else "正式",
                                                        job_title="主治医师")
                self.slips[key] = ledger.issue_report_slip(actor=self.unit, member_id=self.members[key],
                                                           community_id=self.community.actor_id)
        with simulated(at(date(YEAR, 3, 12), 10)):
            for key in self.members:
                ledger.register_member(
                    actor=self.community, member_id=self.members[key], slip_id=self.slips[key],
                    post_ids=[self.posts["政策法规宣传岗"], self.posts["困难群众帮扶岗"]],
                    profile={"sex": "女", "education": "硕士研究生", "party_joined": "2010-07",
                             "specialities": "医疗", "hobbies": "读书", "available_time": "周六上午"},
                    personal=PERSONAL, willing_other_service=True)
        with simulated(at(date(YEAR, 4, 1), 20)):
            session = ledger.record_session(
                actor=Actor(self.members["B"], Role.MEMBER), member_id=self.members["B"], activity="志愿服务",
                content="义诊", place="社区卫生服务站", service_date=date(YEAR, 4, 1), start_time="09:00",
                end_time="10:30", minutes=90, post_id=self.posts["政策法规宣传岗"], order_id=None,
                organiser="锁金村街道卫生院")
            ledger.rate_session(actor=self.community, session_id=session, rating="优")
            ledger.certify_session(actor=self.community, session_id=session)
        self.views = Views(ledger)
        self.views.catch_up()


@pytest.fixture
def world(ledger: Ledger) -> Iterator[World]:
    made = World(ledger)
    yield made
    made.views.close()


# -- 附件1 ---------------------------------------------------------------------------------------------


def test_slip_pdf_has_every_field_of_the_paper_form(world: World, tmp_path: Path) -> None:
    slip_id = str(world.slips["main"])
    pdf = render(reports.slip(world.views, slip_id=slip_id, personal_data=world.ledger.member_personal_data), "pdf")
    text = pdf_text(pdf, tmp_path)
    for expected in ("在职党员社区报到单", "玄武区锁金村街道紫鑫城社区党组织：", "我单位中共预备党员", "曹顺仙",
                     "联系电话：13911112222", "现到你处报到，请予登记并安排参加社区相关服务活动",
                     "（请于8月31日之前报到）", "南京市鼓楼医院", "（单位党组织盖章）", "2026年3月2日", "单位党组织盖章"):
        assert flat(expected) in text, expected
    assert ink_ratio(first_page_png(pdf, tmp_path, "slip")) > 0.002


def test_slip_hides_the_phone_without_personal_access(world: World, tmp_path: Path) -> None:
    text = pdf_text(render(reports.slip(world.views, slip_id=str(world.slips["main"])), "pdf"), tmp_path)
    assert "13911112222" not in text and "联系电话：（保密）" in text


def test_receipt_pdf_names_the_posts_claimed(world: World, tmp_path: Path) -> None:
    pdf = render(reports.receipt(world.views, slip_id=str(world.slips["main"])), "pdf")
    text = pdf_text(pdf, tmp_path)
    for expected in ("在职党员社区报到回执单", "南京市鼓楼医院：", "你单位党员 曹顺仙 同志已于 3 月 12 日到我处报到登记",
                     "认领的社区服务岗位为", "政策法规宣传岗", "困难群众帮扶岗", "紫鑫城社区党组织", "（社区党组织盖章）",
                     "2026年3月12日"):
        assert flat(expected) in text, expected
    assert ink_ratio(first_page_png(pdf, tmp_path, "receipt")) > 0.002


def test_no_receipt_before_the_member_registers(ledger: Ledger) -> None:
    with simulated(at(date(YEAR, 1, 2), 9)):
        ledger.init_region(code="320102", name="南京市玄武区")
        region = ledger.region_actor()
        unit = Actor(ledger.register_unit(actor=region, name="单位", unit_type="机关", declared_members=1), Role.UNIT)
        community = ledger.register_community(actor=region, name="社区", county="区", street="街道")
        member = ledger.enrol_member(actor=unit, name="某人", party_status="正式", job_title="科员")
        slip_id = ledger.issue_report_slip(actor=unit, member_id=member, community_id=community)
    views = Views(ledger)
    try:
        views.catch_up()
        with pytest.raises(InvalidInput):
            reports.receipt(views, slip_id=str(slip_id))
    finally:
        views.close()


# -- 附件2 ---------------------------------------------------------------------------------------------


def test_member_form_pdf_has_every_field_of_the_paper_form(world: World, tmp_path: Path) -> None:
    member_id = str(world.members["main"])
    pdf = render(reports.member_form(world.views, member_id=member_id,
                                     personal_data=world.ledger.member_personal_data), "pdf")
    text = pdf_text(pdf, tmp_path)
    labels = ("在职党员基本情况登记表", "本人签名", "填表日期：2026年3月12日", "姓名", "性别", "民族", "健康状况",
              "（照片）", "学历", "出生年月", "入党时间", "工作单位及职务", "单位地址", "家庭住址", "报到社区",
              "认领岗位", "能参加社区服务的时间", "是否愿意参加社区其他服务", "工作单位联系电话", "本人联系电话/手机",
              "社区党组织须对表中有关信息保密")
    values = ("曹顺仙", "女", "汉族", "良好", "硕士研究生", "1985-03", "2010-07", "南京市鼓楼医院", "主治医师",
              "北京东路41号", "玄武区龙蟠路9号", "锁金村街道", "紫鑫城社区", "☑政策法规宣传岗", "☑困难群众帮扶岗",
              "□社区工作参议岗", "周六上午", "是", "025-83330000", "13911112222")
    for expected in (*labels, *values):
        assert flat(expected) in text, expected
    for post in STANDARD_POSTS:
        assert post in text, post
    assert ink_ratio(first_page_png(pdf, tmp_path, "member-form")) > 0.005


def test_member_form_shows_personal_fields_only_with_access(world: World, tmp_path: Path) -> None:
    member_id = str(world.members["main"])
    document = reports.member_form(world.views, member_id=member_id, work_data=world.ledger.member_personal_data)
    text = pdf_text(render(document, "pdf"), tmp_path)
    for secret in ("汉族", "良好", "1985-03", "玄武区龙蟠路9号", "北京东路41号", "13911112222"):
        assert secret not in text, secret
    assert "（保密）" in text
    assert "025-83330000" in text  # 单位电话 is the unit's, not a personal field
    assert "曹顺仙" in text and "硕士研究生" in text


# -- 附件4 and 附件5 -----------------------------------------------------------------------------------


def test_register_separates_unit_and_job_title_and_prints_the_footnote(world: World, tmp_path: Path) -> None:
    document = reports.register(world.views, year=YEAR, community_id=str(world.community.actor_id),
                                work_data=world.ledger.member_personal_data)
    row = next(row for row in document.tables()[0].rows if row["name"] == "曹顺仙")
    assert row["unit_post"] != "南京市鼓楼医院主治医师"
    assert row["unit_post"].split() == ["南京市鼓楼医院", "主治医师"]
    assert row["unit_phone"] == "025-83330000"  # not a personal field
    assert row["mobile"] == reports.HIDDEN and row["address"] == reports.HIDDEN
    text = pdf_text(render(document, "pdf"), tmp_path)
    assert "注：此表供参考，由社区党组织汇总填写，报上级党（工）委留存备案。" in text


def test_card_names_certifier_and_date_per_session_and_its_hours(world: World, tmp_path: Path) -> None:
    document = reports.card(world.views, year=YEAR, member_id=str(world.members["B"]))
    table = document.tables()[0]
    row = table.rows[0]
    assert row["minutes"] == 90 and row["cumulative_minutes"] == 90
    assert row["certified_by"] == "评价：锁金村街道卫生院\n认证：紫鑫城社区党组织\n2026年4月1日"
    text = pdf_text(render(document, "pdf"), tmp_path)
    for expected in ("本次服务时", "认证：紫鑫城社区党组织", "2026年4月1日", "1:30"):
        assert flat(expected) in text, expected


def test_a_members_card_speaks_plain_chinese_on_its_first_page(world: World, tmp_path: Path) -> None:
    pdf = render(reports.card(world.views, year=YEAR, member_id=str(world.members["B"])), "pdf")
    first = pdf_text(pdf, tmp_path, "card", page=1)
    for word in ("timeledger", "verify", "--trust", "根哈希", "签名事件"):
        assert word not in first, word
    assert "扫描" in first and "审计核验" in first
    second = pdf_text(pdf, tmp_path, "card", page=2)
    assert "技术说明" in second and "签名事件" in second


# -- China time ------------------------------------------------------------------------------------------


def test_china_time_is_the_one_rule_for_instants() -> None:
    assert china_time(datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == "2027-01-01 00:00"
    assert china_time("2026-12-31T16:00:00Z") == "2027-01-01 00:00"
    assert china_time("2026-06-01T01:02:03+00:00", seconds=True) == "2026-06-01 09:02:03"
    assert china_time(datetime(2026, 6, 1, 1, 2)) == "2026-06-01 09:02"  # naive: UTC, as stored


# -- 生僻字 ----------------------------------------------------------------------------------------------


def covered_extensions() -> list[str]:
    return [key for key, name in RARE_NAMES.items() if not missing_characters(name)]


def test_the_fallback_chain_covers_extensions_a_to_g() -> None:
    if not fallback_fonts():
        pytest.skip("no fallback font installed (fonts-hanazono, fonts-babelstone-han)")
    assert covered_extensions() == list("ABCDEFG")


def test_rare_names_print_on_every_form(world: World, tmp_path: Path) -> None:
    covered = covered_extensions()
    views, ledger = world.views, world.ledger
    documents = {
        "register": reports.register(views, year=YEAR, community_id=str(world.community.actor_id)),
        "stars": reports.stars(views, year=YEAR),
        "unit-stats": reports.unit_stats(views, year=YEAR, unit_id=str(world.unit.actor_id)),
    }
    for key in covered:
        member_id = str(world.members[key])
        documents[f"card-{key}"] = reports.card(views, year=YEAR, member_id=member_id)
        documents[f"form-{key}"] = reports.member_form(views, member_id=member_id,
                                                       personal_data=ledger.member_personal_data)
        documents[f"slip-{key}"] = reports.slip(views, slip_id=str(world.slips[key]))
        documents[f"receipt-{key}"] = reports.receipt(views, slip_id=str(world.slips[key]))
    for name, document in documents.items():
        text = pdf_text(render(document, "pdf"), tmp_path, name)
        wanted = [RARE_NAMES[key] for key in covered] if "-" not in name or name == "unit-stats" else \
            [RARE_NAMES[name.split("-")[1]]]
        if name == "unit-stats":
            continue  # 附件3 counts members; it names none
        for rare in wanted:
            assert rare in text, (name, rare)
    workbook = openpyxl.load_workbook(io.BytesIO(render(documents["register"], "xlsx")))
    cells = {cell for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True) for cell in row}
    csv_text = render(documents["register"], "csv").decode("utf-8-sig")
    for key in covered:
        assert RARE_NAMES[key] in cells and RARE_NAMES[key] in csv_text


def test_rare_name_page_is_drawn(world: World, tmp_path: Path) -> None:
    if "B" not in covered_extensions():
        pytest.skip("no font for CJK Extension B installed")
    pdf = render(reports.slip(world.views, slip_id=str(world.slips["B"])), "pdf")
    assert "𠮷野𡈼" in pdf_text(pdf, tmp_path)
    assert b"HanaMin" in pdf or b"BabelStone" in pdf  # Extension B comes from a fallback font, embedded


# -- the CLI -------------------------------------------------------------------------------------------


def test_cli_prints_slip_and_receipt(world: World, database_url: str, tmp_path: Path) -> None:
    url = database_url
    for kind in ("slip", "receipt"):
        out = tmp_path / f"{kind}.pdf"
        result = runner.invoke(app, ["report", kind, "--slip", str(world.slips["main"]), "--out", str(out),
                                     "--db", url])
        assert result.exit_code == 0, result.output
        text = pdf_text(out.read_bytes(), tmp_path, kind)
        assert "曹顺仙" in text
    result = runner.invoke(app, ["report", "slip", "--db", url])
    assert result.exit_code != 0 and "--slip" in result.output


def test_a_members_certificate_speaks_plain_chinese_on_its_first_page(ledger: Ledger, tmp_path: Path) -> None:
    from ledger.application.certificates import issue_certificate
    from projections.render.certificate import render_certificate_pdf
    from tests.transparency.helpers import build_history

    history = build_history(ledger)
    issued = issue_certificate(ledger, history.region.members[0].actor_id, year=2026)
    pdf = render_certificate_pdf(issued.verified)
    first = pdf_text(pdf, tmp_path, "certificate", page=1)
    for word in ("timeledger", "verify", "--trust", "根哈希", "SHA-256"):
        assert word not in first, word
    assert "扫描" in first and "审计核验" in first
    last = pdf_text(pdf, tmp_path, "certificate", page=2)
    assert "技术说明" in last and "根哈希" in last and "--trust" in last and "北京时间" in last
    assert issued.verified.checkpoint.root_hash.hex() in last


def test_form_grid_spans_must_tile_the_grid() -> None:
    from projections.render.model import FormCell, FormGrid, grid_places

    with pytest.raises(ValueError, match="does not fill"):
        FormGrid("短", [1, 1], [[FormCell("甲")]])
    with pytest.raises(ValueError, match="runs past"):
        FormGrid("长", [1, 1], [[FormCell("甲", colspan=3)]])
    with pytest.raises(ValueError, match="runs past"):
        FormGrid("高", [1, 1], [[FormCell("甲", rowspan=2), FormCell("乙")]])
    grid = FormGrid("照片", [1, 1], [[FormCell("甲"), FormCell("照片", rowspan=2)], [FormCell("乙")]])
    assert [(row, column, cell.text) for row, column, cell in grid_places(grid)] == [
        (0, 0, "甲"), (0, 1, "照片"), (1, 0, "乙")]


def test_slip_and_form_in_csv_json_and_xlsx_keep_every_field(world: World) -> None:
    import json

    document = reports.member_form(world.views, member_id=str(world.members["main"]),
                                   personal_data=world.ledger.member_personal_data)
    csv_text = render(document, "csv").decode("utf-8-sig")
    assert csv_text.startswith("在职党员基本情况登记表") and "曹顺仙" in csv_text and "13911112222" in csv_text
    lines = json.loads(render(document, "json"))["form_lines"]
    assert ["姓名", "曹顺仙", "性别", "女", "民族", "汉族", "健康状况", "良好", "（照片）"] in lines
    workbook = openpyxl.load_workbook(io.BytesIO(render(reports.slip(world.views, slip_id=str(world.slips["main"])),
                                                        "xlsx")))
    cells = [cell for row in workbook.active.iter_rows(values_only=True) for cell in row if cell]
    assert any("曹顺仙" in cell for cell in cells)
