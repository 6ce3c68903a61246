"""The report rendering layer: one sample 附件5 record card and one wide 附件4 register, in every format."""

from __future__ import annotations

import csv
import datetime
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from projections.render import fonts, render
from projections.render.csv import render_csv
from projections.render.model import (
    CellValue,
    Chart,
    Column,
    QRCode,
    Report,
    Section,
    SignatureBox,
    Table,
    display_width,
    format_cell,
)
from projections.render.pdf import render_pdf
from projections.render.xlsx import render_xlsx

REGISTER_ROWS = 45  # enough for the register to run onto a second page
SERVICES = (
    ("政策法规宣传", "紫鑫城社区活动室", 90),
    ("困难群众帮扶：为孤寡老人送餐、打扫卫生并陪同就医", "锁金村街道 12 号楼", 150),
    ("青少年教育服务（暑期课业辅导）", "社区图书室", 120),
    ("环境保护卫士：垃圾分类宣传", "紫鑫城小区东门", 45),
)
CARD_TOTAL_MINUTES = 3 * sum(minutes for _, _, minutes in SERVICES)
QR_PAYLOAD = "https://example.org/verify/8f14e45f-ceea-467f-a0e6-7b2d1c9a0b11"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN_NAMES = ("建国", "秀英", "志强", "丽娟", "海燕", "明", "玥", "子涵", "堃", "顺仙")


def record_card() -> Report:
    """附件5 在职党员社区服务（活动）记录卡, filled in."""
    rows: list[dict[str, CellValue]] = []
    cumulative_minutes = 0
    for day, (content, place, minutes) in enumerate(SERVICES * 3, start=1):
        cumulative_minutes += minutes
        rows.append(
            {
                "date": datetime.date(2024, 3, day * 2),
                "content": content,
                "place": place,
                "cumulative_minutes": cumulative_minutes,
                "rating": "优" if day % 3 else "良",
                "certified_by": "李红（社区书记）",
            }
        )
    columns = [
        Column("date", "年月日", 11, "center", "date"),
        Column("content", "服务（活动）内容", 28),
        Column("place", "服务地点", 16),
        Column("cumulative_minutes", "累计服务时间（小时）", 10, "right", "hours"),
        Column("rating", "评价（优/良/一般）", 9, "center"),
        Column("certified_by", "认证签字", 16, "center"),
    ]
    card = Table(
        name="服务记录",
        columns=columns,
        rows=rows,
        totals_row={"date": "个人累计社区服务活动时间", "cumulative_minutes": cumulative_minutes},
    )
    monthly = Chart(
        kind="line",
        title="月度服务时长",
        categories=["1月", "2月", "3月", "4月", "5月", "6月"],
        series=[("服务时长", [120, 300, 1395, 240, 0, 600]), ("社区平均", [200, 220, 260, 250, 180, 300])],
        y_label="小时",
        value_kind="hours",
    )
    return Report(
        title="在职党员社区服务（活动）记录卡",
        subtitle_lines=["南京市玄武区锁金街道"],
        meta=[("在职党员姓名", "曹顺仙"), ("工作单位", "南京林业大学马克思主义学院"), ("报到社区", "紫鑫城社区")],
        sections=[
            Section(
                items=[
                    card,
                    SignatureBox("社区党组织认证签字（盖章）"),
                    QRCode(QR_PAYLOAD, "扫码核验服务时长"),
                ]
            ),
            Section(heading="服务时长趋势", items=[monthly]),
        ],
        footer_lines=["注：个人累计服务（活动）时间由社区党组织负责统计、核准并签字认证。"],
    )


def register() -> Report:
    """附件4 在职党员社区报到登记表: 17 columns on landscape A4."""
    columns = [
        Column("no", "序号", 4, "center", "int"),
        Column("name", "姓名", 6),
        Column("sex", "性别", 4, "center"),
        Column("birth_month", "出生年月", 8, "center"),
        Column("joined_party", "入党时间", 8, "center"),
        Column("education", "文化程度", 6),
        Column("speciality", "专业特长", 8),
        Column("hobbies", "兴趣爱好", 8),
        Column("unit_post", "工作单位及职务", 16),
        Column("unit_type", "单位属性（机关、事业、企业、大专院校）", 8),
        Column("address", "住  址", 16),
        Column("unit_phone", "单位电话", 12),
        Column("mobile", "手机", 11, "center"),
        Column("project", "志愿服务项目", 9),
        Column("team", "志愿服务小组", 8),
        Column("reported_on", "报到日期", 10, "center", "date"),
        Column("other_service", "是否愿意参加社区其他服务", 6, "center"),
    ]
    rows = [_register_row(number) for number in range(1, REGISTER_ROWS + 1)]
    by_project = Chart(
        kind="bar",
        title="各志愿服务项目报到人数",
        categories=["政策法规宣传", "社区工作参议", "文明创建示范", "公益事业推动", "困难群众帮扶", "青少年教育服务"],
        series=[("2023年", [12, 8, 15, 6, 20, 9]), ("2024年", [14, 10, 13, 9, 25, 12])],
        y_label="人数",
    )
    return Report(
        title="在职党员社区报到登记表",
        meta=[("县（市、区）", "玄武区"), ("街道（乡镇）", "锁金村街道"), ("社区党组织", "紫鑫城社区党委")],
        sections=[
            Section(
                items=[Table(name="报到登记", columns=columns, rows=rows, note="注：社区党组织须对表中有关信息保密。")]
            ),
            Section(heading="报到情况统计", items=[by_project]),
        ],
        footer_lines=["注：此表供参考，由社区党组织汇总填写，报上级党（工）委留存备案。"],
        landscape=True,
    )


def _register_row(number: int) -> dict[str, CellValue]:
    name = SURNAMES[number % len(SURNAMES)] + GIVEN_NAMES[number % len(GIVEN_NAMES)]
    return {
        "no": number,
        "name": name,
        "sex": "女" if number % 2 else "男",
        "birth_month": f"{1960 + number % 35}.{number % 12 + 1:02d}",
        "joined_party": f"{1985 + number % 30}.{number % 12 + 1:02d}",
        "education": ("大学本科", "硕士研究生", "大专")[number % 3],
        "speciality": ("法律咨询", "计算机维修", "书法")[number % 3],
        "hobbies": ("摄影、登山", "太极拳", "阅读")[number % 3],
        "unit_post": ("江苏省人民医院心血管内科副主任医师", "南京市玄武区人民政府办公室科员", "某科技有限公司工程师")[
            number % 3
        ],
        "unit_type": ("事业", "机关", "企业", "大专院校")[number % 4],
        "address": f"玄武区锁金村{number}栋{number % 6 + 1}单元{number % 30 + 100}室",
        "unit_phone": f"025-8{number:07d}",
        "mobile": f"139{number:08d}",
        "project": ("政策法规宣传", "困难群众帮扶", "青少年教育服务")[number % 3],
        "team": f"第{number % 5 + 1}小组",
        "reported_on": datetime.date(2024, 8, number % 28 + 1),
        "other_service": "是" if number % 4 else "否",
    }


def test_hours_column_shows_minutes_exactly_as_hours_and_minutes() -> None:
    hours = Column("minutes", "时长", kind="hours")
    assert [format_cell(hours, minutes) for minutes in (90, 5, 3, 0, 1395)] == ["1:30", "0:05", "0:03", "0:00", "23:15"]
    assert format_cell(hours, "合计") == "合计"
    assert format_cell(hours, None) == ""


def test_display_width_counts_cjk_characters_twice() -> None:
    assert display_width("报到2024") == 8
    assert display_width("（优/良）") == 9


def test_pdf_embeds_the_cjk_font() -> None:
    pdf = render_pdf(record_card())
    font = fonts.cjk_font()
    assert pdf.startswith(b"%PDF")
    assert font.embedded, "install fonts-wqy-zenhei (see .ci/apt-packages.txt)"
    assert b"/FontFile2" in pdf
    assert font.face_name.encode() in pdf


def test_pdf_refers_to_no_font_but_the_embedded_one() -> None:
    for report in (record_card(), register()):
        assert b"Helvetica" not in render_pdf(report)


def test_font_falls_back_to_builtin_cid_font_with_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fonts.FONT_ENV, raising=False)
    monkeypatch.setattr(fonts, "FONT_CANDIDATES", ())
    fonts._register.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="fonts-wqy-zenhei"):
            fallback = fonts.cjk_font()
        assert (fallback.name, fallback.embedded) == ("STSong-Light", False)
        assert render_pdf(record_card()).startswith(b"%PDF")
    finally:
        fonts._register.cache_clear()


def test_font_named_in_environment_must_be_embeddable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    not_a_font = tmp_path / "fake.ttf"
    not_a_font.write_bytes(b"not a font")
    monkeypatch.setenv(fonts.FONT_ENV, str(not_a_font))
    with pytest.raises(fonts.CjkFontError, match=r"fake\.ttf"):
        fonts.cjk_font()


@pytest.mark.skipif(
    shutil.which("zbarimg") is None or shutil.which("pdftoppm") is None, reason="zbar-tools not installed"
)
def test_pdf_qr_code_scans_back_to_its_payload(tmp_path: Path) -> None:
    (tmp_path / "card.pdf").write_bytes(render_pdf(record_card()))
    subprocess.run(["pdftoppm", "-png", "-r", "150", str(tmp_path / "card.pdf"), str(tmp_path / "page")], check=True)
    scanned = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(tmp_path / "page-1.png")], capture_output=True, check=True, timeout=60
    )
    assert scanned.stdout.decode().strip() == QR_PAYLOAD


def test_model_refuses_tables_and_charts_that_cannot_be_drawn() -> None:
    with pytest.raises(ValueError, match="repeats a column key"):
        Table(name="t", columns=[Column("a", "甲"), Column("a", "乙")], rows=[])
    with pytest.raises(ValueError, match="no columns"):
        Table(name="t", columns=[], rows=[])
    with pytest.raises(ValueError, match="one per category"):
        Chart(kind="bar", title="图", categories=["一", "二"], series=[("数", [1])])


def test_pdf_is_deterministic() -> None:
    assert render_pdf(record_card()) == render_pdf(record_card())


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_pdf_text_has_chinese_headers_and_page_numbers() -> None:
    text = _pdf_text(render_pdf(register()))
    for header in ("序号", "工作单位及职务", "是否愿意参加社区其他服务", "社区党组织", "报到情况统计"):
        assert header in text.replace(" ", "").replace("\n", "")
    assert "第 1 页 / 共" in text
    assert text.count("工作单位及") >= 2, "the header row repeats on the second page"


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_pdf_record_card_shows_hours_totals_and_signature() -> None:
    text = _pdf_text(render_pdf(record_card())).replace(" ", "")
    assert "个人累计社区服务活动时间" in text
    assert "20:15" in text
    assert "社区党组织认证签字（盖章）" in text
    assert "第1页/共" in text


def test_xlsx_has_chinese_headers_and_numeric_cells() -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(render_xlsx(record_card())))
    sheet = workbook["服务记录"]
    header_row = _row_index(sheet, "年月日")
    headers = [cell.value for cell in sheet[header_row]]
    assert headers == [
        "年月日",
        "服务（活动）内容",
        "服务地点",
        "累计服务时间（小时）",
        "评价（优/良/一般）",
        "认证签字",
    ]
    assert sheet.freeze_panes == f"A{header_row + 1}"
    assert all(cell.font.bold for cell in sheet[header_row])
    first = sheet[header_row + 1]
    assert first[0].value == datetime.datetime(2024, 3, 2)
    assert first[3].value == datetime.timedelta(minutes=90)  # an exact duration, shown as [h]:mm
    assert first[3].number_format == "[h]:mm"
    totals = sheet[header_row + 1 + len(SERVICES) * 3]
    assert totals[0].value == "个人累计社区服务活动时间"
    assert totals[3].value == datetime.timedelta(minutes=CARD_TOTAL_MINUTES)
    assert totals[0].font.bold
    assert sheet.auto_filter.ref == f"A{header_row}:F{header_row + len(SERVICES) * 3}"
    assert sheet["A1"].value == "在职党员社区服务（活动）记录卡"


def test_xlsx_register_widths_and_chart_sheet() -> None:
    xlsx = render_xlsx(register())
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx))
    assert workbook.sheetnames == ["报到登记", "各志愿服务项目报到人数"]
    sheet = workbook["报到登记"]
    header_row = _row_index(sheet, "序号")
    assert sheet.cell(header_row + 1, 1).value == 1
    last_row = header_row + REGISTER_ROWS
    assert sheet.cell(last_row + 2, 1).value == "注：社区党组织须对表中有关信息保密。"
    assert sheet.cell(last_row + 3, 1).value == "注：此表供参考，由社区党组织汇总填写，报上级党（工）委留存备案。"
    assert sheet.column_dimensions["I"].width > sheet.column_dimensions["A"].width
    assert "xl/charts/chart1.xml" in zipfile.ZipFile(io.BytesIO(xlsx)).namelist()


def test_xlsx_sheet_names_are_legal_and_unique() -> None:
    columns = [Column("n", "数", kind="int")]
    tables = [
        Table(name=name, columns=columns, rows=[{"n": 1}]) for name in ("a/b:c*?[d]", "a/b:c*?[d]", "长" * 40, "")
    ]
    report = Report(title="名称", sections=[Section(items=tables)])
    names = openpyxl.load_workbook(io.BytesIO(render_xlsx(report))).sheetnames
    assert len(set(names)) == 4
    assert all(len(name) <= 31 and not set(name) & set("[]:*?/\\") for name in names)


def test_csv_has_bom_crlf_and_parses_back() -> None:
    data = render_csv(record_card())
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data
    assert b"\n" not in data.replace(b"\r\n", b"")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == [
        "年月日",
        "服务（活动）内容",
        "服务地点",
        "累计服务时间（小时）",
        "评价（优/良/一般）",
        "认证签字",
    ]
    assert rows[1] == ["2024-03-02", "政策法规宣传", "紫鑫城社区活动室", "1:30", "优", "李红（社区书记）"]
    assert rows[-1][:4] == ["个人累计社区服务活动时间", "", "", "20:15"]


def test_text_that_looks_like_a_formula_stays_inert_text() -> None:
    texts = ['=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "@SUM(1)", "-5", "+86 139 0000 0000", "王=李"]
    table = Table(name="名单", columns=[Column("name", "姓名")], rows=[{"name": text} for text in texts])
    report = Report(title="注入", sections=[Section(items=[table])])
    cells = [row[0] for row in csv.reader(io.StringIO(render_csv(report).decode("utf-8-sig"), newline=""))]
    assert cells[1:] == ["'" + texts[0], "'" + texts[1], "'" + texts[2], "-5", "+86 139 0000 0000", "王=李"]
    sheet = openpyxl.load_workbook(io.BytesIO(render_xlsx(report)))["名单"]
    header_row = _row_index(sheet, "姓名")
    column = [sheet.cell(header_row + offset, 1) for offset in range(1, len(texts) + 1)]
    assert [(cell.value, cell.data_type) for cell in column] == [(text, "s") for text in texts]


def test_csv_picks_the_named_table() -> None:
    other = Table(name="其他", columns=[Column("x", "列")], rows=[{"x": "值"}])
    report = Report(title="两表", sections=[Section(items=[*record_card().tables(), other])])
    assert render_csv(report, "其他").decode("utf-8-sig") == "列\r\n值\r\n"
    with pytest.raises(KeyError):
        render_csv(report, "没有")


def test_json_round_trips_rows_with_minutes_as_ints() -> None:
    document = json.loads(render(record_card(), "json").decode("utf-8"))
    table = document["tables"][0]
    assert table["name"] == "服务记录"
    assert table["rows"][0]["cumulative_minutes"] == 90
    assert table["rows"][0]["date"] == "2024-03-02"
    assert table["totals_row"]["cumulative_minutes"] == CARD_TOTAL_MINUTES
    assert "曹顺仙" in render(record_card(), "json").decode("utf-8")


def test_render_dispatches_by_format() -> None:
    report = record_card()
    assert render(report, "pdf").startswith(b"%PDF")
    assert render(report, "xlsx").startswith(b"PK")
    assert render(report, "csv").startswith(b"\xef\xbb\xbf")
    with pytest.raises(ValueError, match="docx"):
        render(report, "docx")  # type: ignore[arg-type]  # the wrong type, on purpose


def _pdf_text(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-raw", "-", "-"], input=pdf, capture_output=True, check=True, timeout=60
    ).stdout.decode("utf-8")


def _row_index(sheet: object, first_header: str) -> int:
    assert isinstance(sheet, Worksheet)
    for row in sheet.iter_rows(min_col=1, max_col=1):
        if row[0].value == first_header:
            return int(row[0].row)
    raise AssertionError(f"no header row starting {first_header!r}")
