"""Golden: the exemption loophole (issue #11). 孙己 reports, claims a post, serves once (960 min 优),
makes no suggestion, and the unit grants an exemption for the year: 192 + 5 + 10 = 207 points, but
the service requirements are not met, so no star and no award eligibility, on every report."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from ledger.demo import at, simulated
from projections import queries as q
from projections import reports
from projections.projector import Views
from tests.projections.golden import YEAR, Golden, member_actor


def add_exempted_member_who_reported(golden: Golden) -> None:
    ledger = golden.ledger
    c1 = golden.community1
    post = ledger.get_community(c1.actor_id).post_id("困难群众帮扶岗")
    with simulated(at(date(YEAR, 3, 2), 11)):
        member = ledger.enrol_member(actor=golden.unit1, name="孙己", party_status="正式", job_title="科员")
        slip = ledger.issue_report_slip(actor=golden.unit1, member_id=member, community_id=c1.actor_id)
    with simulated(at(date(YEAR, 3, 12), 10)):
        ledger.register_member(actor=c1, member_id=member, post_ids=[post], slip_id=slip)
    with simulated(at(date(YEAR, 4, 2), 20)):
        session = ledger.record_session(
            actor=member_actor(member), member_id=member, activity="志愿服务", content="帮扶", place="社区",
            service_date=date(YEAR, 4, 2), start_time="07:00", end_time="23:00", minutes=960,
            post_id=post, order_id=None, organiser="社区党委")
        ledger.rate_session(actor=c1, session_id=session, rating="优")
        ledger.certify_session(actor=c1, session_id=session)
    with simulated(at(date(YEAR, 5, 6), 9)):
        ledger.grant_exemption(actor=golden.unit1, member_id=member, year=YEAR, reason="外派学习")
    golden.members["F"] = member


def test_an_exempted_member_who_reported_but_served_once_has_no_star_and_no_eligibility(
        golden: Golden, golden_views: Views) -> None:
    add_exempted_member_who_reported(golden)
    golden_views.catch_up()
    years = {my.member.name: my for my in q.member_years(golden_views, year=YEAR)}
    f = years["孙己"]
    assert f.points == Fraction(192 + 5 + 10)
    assert (f.stars, f.eligible, f.missing) == (0, False, ("服务活动少于2次", "未提出建议"))
    assert years["赵丁"].eligible  # exempted and never reported: excused
    eligibility = {str(row["name"]): dict(row) for row in reports.eligibility(golden_views, year=YEAR).tables()[0].rows}
    assert (eligibility["孙己"]["eligibility"], eligibility["张甲"]["eligibility"]) == ("取消", "保留")
    assert "服务活动少于2次" in str(eligibility["孙己"]["reason"])
    stars = {str(row["name"]): dict(row) for row in reports.stars(golden_views, year=YEAR).tables()[0].rows}
    assert stars["孙己"]["stars"] == "—" and stars["孙己"]["points"] == "207.0"
