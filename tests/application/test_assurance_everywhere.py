"""Issue #15, everywhere the assurance shows: the feedback report, the member-years the scores come
from, and a published policy that weighs the classes (policy v1 weighs them alike, so results
before #15 do not change). Imported sessions (补录) stand for any class other than typed afterwards."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date

import pytest

from ledger.application import Ledger
from ledger.commands import paper
from ledger.domain.scoring import POLICY_V1_RULES
from projections import queries as q
from projections.projector import Views
from projections.reports import feedback
from tests.projections.helpers import clean_rebuild, differences, dump, fresh_views
from tests.scenario import Region, at_day, build_region, serve

TODAY = date(2026, 12, 1)  # the clock is pinned: a card line of March, imported on 1 December


@pytest.fixture(autouse=True)
def pinned_clock() -> Iterator[None]:
    with at_day(TODAY):
        yield


@pytest.fixture
def region() -> Region:
    return build_region(Ledger("memory:"), members=2)


def _import_one_card_line(region: Region, minutes: int = 90) -> None:
    member = region.members[0]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([list(paper.HEADERS), [
        str(member.actor_id), "党员1", "2026-03-08", "08:30", "10:00", "清理楼道杂物", "紫鑫城社区3栋", str(minutes), "优",
        "王主任"]])
    outcome = paper.import_sessions(region.ledger, region.community, buffer.getvalue().encode("utf-8-sig"), "cards.csv")
    assert outcome.problems == [] and outcome.written == 1


def _year(views: Views, region: Region) -> q.MemberYear:
    [my] = q.member_years(views, year=2026, member_id=str(region.members[0].actor_id))
    return my


def test_the_feedback_shows_how_each_members_hours_were_recorded(region: Region) -> None:
    serve(region, region.members[0], 30)  # typed afterwards
    _import_one_card_line(region)
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
    _import_one_card_line(region)
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
