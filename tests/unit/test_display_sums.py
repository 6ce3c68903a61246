"""Sums that add up on screen and on paper (issue #11 item 5).

One display rule for durations (`ledger.domain.display`: exact h:mm): for any set of minutes, the
rows as every surface shows them add up to the total as it shows it — the pages' formatter, the
report cells (PDF and CSV print `format_cell`), the XLSX cells, a rendered CSV read back, the
certificate's table. Points keep one decimal everywhere.
"""

from __future__ import annotations

import csv
import datetime
import io
from fractions import Fraction

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.display import (
    XLSX_DURATION_FORMAT,
    duration_text,
    duration_words,
    minutes_from_text,
    points_text,
)
from ledger.domain.scoring import points_text as scoring_points_text
from projections.render import render
from projections.render.model import Column, Report, Section, Table, format_cell

MINUTE_SETS = st.lists(st.integers(0, 16 * 60), min_size=1, max_size=40)
HOURS = Column("minutes", "时长（时:分）", 10, "right", "hours")


def _table(minutes: list[int]) -> Report:
    rows = [{"no": str(i), "minutes": m} for i, m in enumerate(minutes, 1)]
    table = Table("服务记录", [Column("no", "序号", 6), HOURS], rows, totals_row={"no": "合计", "minutes": sum(minutes)})
    return Report(title="测试", sections=[Section([table])])


def _words_minutes(text: str) -> int:
    hours, _, rest = text.partition("小时")
    if not _:
        return int(text.removesuffix("分钟"))
    return int(hours) * 60 + (int(rest.removesuffix("分")) if rest else 0)


def test_the_issues_examples_now_add_up() -> None:
    # counter basket 0.3 × 2 = 0.7 小时 (20 minutes twice); 存入 4.2 − 已兑换 0.8 = 可用 3.3 (250 − 50 = 200);
    # certificate rows 2.3 + 1.8 above a total of 4.2 (140 + 110 = 250)
    assert [duration_text(20)] * 2 == ["0:20", "0:20"] and duration_text(40) == "0:40"
    assert (duration_text(250), duration_text(50), duration_text(200)) == ("4:10", "0:50", "3:20")
    assert (duration_text(140), duration_text(110), duration_text(250)) == ("2:20", "1:50", "4:10")
    assert duration_words(250) == "4小时10分" and duration_words(120) == "2小时" and duration_words(20) == "20分钟"


@given(minutes=MINUTE_SETS)
def test_the_pages_rows_add_up_to_the_pages_total(minutes: list[int]) -> None:
    shown = [duration_text(m) for m in minutes]
    assert sum(minutes_from_text(text) for text in shown) == minutes_from_text(duration_text(sum(minutes)))


@given(minutes=MINUTE_SETS)
def test_a_balance_shown_is_the_deposits_less_the_redemptions_shown(minutes: list[int]) -> None:
    deposited = sum(minutes)
    redeemed = deposited // 3
    parts = [minutes_from_text(duration_text(value)) for value in (deposited, redeemed, deposited - redeemed)]
    assert parts[0] - parts[1] == parts[2]


@given(minutes=MINUTE_SETS)
def test_sentences_carry_the_same_exact_value(minutes: list[int]) -> None:
    for value in [*minutes, sum(minutes)]:
        assert _words_minutes(duration_words(value)) == value


@given(minutes=MINUTE_SETS)
def test_report_cells_pdf_and_csv_rows_add_up_to_their_totals_row(minutes: list[int]) -> None:
    shown = [format_cell(HOURS, m) for m in minutes]
    assert sum(minutes_from_text(text) for text in shown) == minutes_from_text(format_cell(HOURS, sum(minutes)))


@given(minutes=MINUTE_SETS)
def test_a_rendered_csv_adds_up(minutes: list[int]) -> None:
    text = render(_table(minutes), "csv").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    body = [row for row in rows if row and row[0].isdigit()]
    total = next(row for row in rows if row and row[0] == "合计")
    assert len(body) == len(minutes)
    assert sum(minutes_from_text(row[1]) for row in body) == minutes_from_text(total[1]) == sum(minutes)


@given(minutes=st.lists(st.integers(0, 16 * 60), min_size=1, max_size=12))
def test_a_rendered_xlsx_holds_exact_durations_that_add_up(minutes: list[int]) -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(render(_table(minutes), "xlsx"))).worksheets[0]
    cells = [row[1] for row in sheet.iter_rows() if isinstance(row[1].value, (int, float, datetime.timedelta))
             or isinstance(row[1].value, datetime.time)]
    assert len(cells) == len(minutes) + 1
    for cell in cells:
        assert cell.number_format == XLSX_DURATION_FORMAT

    def shown_minutes(value: object) -> int:
        if isinstance(value, datetime.timedelta):
            return round(value.total_seconds() / 60)
        if isinstance(value, datetime.time):
            return value.hour * 60 + value.minute
        assert isinstance(value, (int, float))
        return round(value * 24 * 60)

    values = [shown_minutes(cell.value) for cell in cells]
    assert values[:-1] == minutes and sum(values[:-1]) == values[-1]


@given(minutes=st.lists(st.integers(1, 16 * 60), min_size=1, max_size=20))
def test_the_certificate_table_adds_up(minutes: list[int]) -> None:
    from projections.render.certificate import certificate_report

    class Line:
        def __init__(self, value: int) -> None:
            self.minutes, self.service_date, self.activity, self.content = value, datetime.date(2026, 5, 1), "敬老", "陪伴"
            self.place, self.rating, self.community_name = "活动室", "优", "紫鑫城社区"
            self.assurance = "self_reported"

    class Checkpoint:
        size, root_hash = 1, bytes(32)

    class Verified:
        sessions = [Line(m) for m in minutes]
        total_minutes = sum(minutes)
        issued_at = checkpoint_time = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)
        period_from = period_to = None
        member_name, region_name, region_code, number = "王红", "南京市玄武区", "320102", "320102-2026-000001"
        member_id, bundle_sha256, reference, witnesses = "m", "0" * 64, "ref", []
        checkpoint = Checkpoint()

    report = certificate_report(Verified())  # type: ignore[arg-type]  # a stand-in with only the fields the report reads
    table = report.tables()[0]
    column = next(c for c in table.columns if c.key == "minutes")
    shown = [format_cell(column, row["minutes"]) for row in table.rows]
    assert table.totals_row is not None
    assert sum(map(minutes_from_text, shown)) == minutes_from_text(format_cell(column, table.totals_row["minutes"]))


@given(points=st.fractions(min_value=0, max_value=10_000))
def test_points_show_one_decimal_everywhere(points: Fraction) -> None:
    text = points_text(points)
    whole, _, tenth = text.partition(".")
    assert whole.isdigit() and len(tenth) == 1 and abs(Fraction(text) - points) <= Fraction(1, 20)
    assert scoring_points_text(points) == text  # scoring re-exports the one rule


@pytest.mark.parametrize("minutes, text", [(0, "0:00"), (5, "0:05"), (60, "1:00"), (75, "1:15"), (1505, "25:05"),
                                           (-20, "−0:20")])
def test_durations_are_exact_hours_and_minutes(minutes: int, text: str) -> None:
    assert duration_text(minutes) == text and minutes_from_text(text) == minutes
