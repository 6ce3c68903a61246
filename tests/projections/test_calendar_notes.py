"""A report of a year no holiday calendar covers says its working days were counted Monday–Friday;
once the region publishes that year's calendar (a signed event the views follow) the note goes."""

from __future__ import annotations

from datetime import date

from ledger.demo import at, simulated
from projections import queries as q
from projections import reports
from projections.projector import Views
from tests.projections.golden import YEAR, Golden

NOTE_2027 = "注：2027年的法定节假日安排尚未发布，工作日按周一至周五计算。"
YEAR_KINDS = ("unit-stats", "register", "feedback", "eligibility", "stars", "overview")


def test_reports_of_a_year_without_a_calendar_say_so_until_one_is_published(golden: Golden,
                                                                            golden_views: Views) -> None:
    for kind in YEAR_KINDS:
        assert NOTE_2027 in reports.build(kind, golden_views, year=2027).footer_lines, kind
        assert not any("节假日安排尚未发布" in line for line in reports.build(kind, golden_views, year=YEAR).footer_lines)
    with simulated(at(date(2026, 11, 12), 9)):
        golden.ledger.publish_calendar(actor=golden.region, year=2027, holidays=["2027-10-01"], workdays=[],
                                       source="国务院办公厅关于2027年部分节假日安排的通知", published_on="2026-11-10")
    golden_views.catch_up()
    assert q.work_calendar(golden_views).years[2027].origin == "region v1"
    for kind in YEAR_KINDS:
        assert NOTE_2027 not in reports.build(kind, golden_views, year=2027).footer_lines, kind
