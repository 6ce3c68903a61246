"""Rules of sessions, members, orders and scoring, on the aggregates alone (no I/O)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from uuid import uuid4

import pytest

from ledger.domain.errors import (
    InvalidInput,
    LastPostCannotBeReleased,
    NotPermitted,
    SessionAlreadyDecided,
    SessionNotRated,
)
from ledger.domain.member import Member
from ledger.domain.orders import Order
from ledger.domain.scoring import POLICY_V1_RULES, SessionFacts, YearFacts, score
from ledger.domain.service_session import ServiceSession
from ledger.domain.values import Rating, Role, hours_text, working_days_between


def session(**changes: object) -> ServiceSession:
    fields = dict(session_id=uuid4(), member_id=uuid4(), community_id=uuid4(), activity="敬老", content="陪伴",
                  place="活动室", service_date=date(2026, 3, 2), start_time="09:00", end_time="11:00", minutes=120,
                  post_id=None, order_id=None, organiser="社区", recipient="居民", recorded_on=date(2026, 3, 3))
    fields.update(changes)
    return ServiceSession.record(**fields)  # type: ignore[arg-type]


def test_minutes_longer_than_the_session_are_refused() -> None:
    with pytest.raises(InvalidInput, match="travel time"):
        session(minutes=121)


def test_a_session_recorded_after_ten_working_days_is_late() -> None:
    assert not session(recorded_on=date(2026, 3, 16)).late  # 10 working days after Mon 2 March
    assert session(recorded_on=date(2026, 3, 17)).late


def test_certification_needs_a_rating_and_happens_once() -> None:
    s = session()
    with pytest.raises(SessionNotRated):
        s.certify(certified_by=uuid4(), certified_on=date(2026, 3, 4))
    s.rate(rating=Rating.GOOD, rater_role=Role.RESIDENT)
    assert s.certify(certified_by=uuid4(), certified_on=date(2026, 3, 4)) == 120
    with pytest.raises(SessionAlreadyDecided):
        s.certify(certified_by=uuid4(), certified_on=date(2026, 3, 4))


def test_a_correction_of_a_certified_session_reports_the_minutes_delta() -> None:
    s = session()
    s.rate(rating=Rating.EXCELLENT, rater_role=Role.COMMUNITY)
    s.certify(certified_by=uuid4(), certified_on=date(2026, 3, 4))
    assert s.correct(changes={"minutes": 90}, reason="更正") == -30
    assert (s.minutes, s.certified_minutes) == (90, 90)
    assert [type(e).__name__ for e in s.collect_events()][-1] == "Corrected"


def test_an_upheld_complaint_zeroes_the_session() -> None:
    s = session()
    s.rate(rating=Rating.EXCELLENT, rater_role=Role.COMMUNITY)
    s.certify(certified_by=uuid4(), certified_on=date(2026, 3, 4))
    assert s.uphold_complaint(reason="投诉属实") == 120
    assert (s.minutes, s.certified_minutes) == (0, 0)


def test_the_last_claimed_post_cannot_be_released() -> None:
    member = Member.enrol(member_id=uuid4(), name="张三", unit_id=uuid4(), party_status="正式", job_title="",
                          region_code="320102")
    member.register(community_id=uuid4(), slip_id=None, reported_on=date(2026, 3, 1), late=False, profile={},
                    personal_sealed={}, willing_other_service=True)
    post = uuid4()
    member.claim_post(post_id=post, post_name="政策法规宣传岗")
    with pytest.raises(LastPostCannotBeReleased):
        member.release_post(post_id=post)


def test_only_the_dispatched_member_accepts_an_order() -> None:
    order = Order.place(order_id=uuid4(), community_id=uuid4(), menu_item_id=uuid4(), menu_title="理发",
                        resident_id=uuid4(), note="", placed_on=date(2026, 3, 1))
    member = uuid4()
    order.dispatch(member_id=member)
    with pytest.raises(NotPermitted):
        order.accept(member_id=uuid4())
    order.accept(member_id=member)
    assert order.status == Order.ACCEPTED


def test_policy_v1_scores_a_year_by_hand() -> None:
    facts = YearFacts(sessions=[SessionFacts(120, "优", "post-a", True), SessionFacts(60, "一般", "post-b", False)],
                      adopted_suggestions=1, suggestions=1, reported=True, claimed_posts=1)
    result = score(POLICY_V1_RULES, facts)
    # 2h×10×1.2 = 24; 1h×10×0.8 = 8; 2 sessions ×5 = 10; 2 items ×10 = 20; 1 excellent order ×5; 1 adopted ×10
    assert result.points == Fraction(24 + 8 + 10 + 20 + 5 + 10)
    assert result.stars == 1 and result.requirements_met


def test_a_member_missing_a_requirement_gets_no_star() -> None:
    facts = YearFacts(sessions=[SessionFacts(6000, "优", "p", False)] * 3, suggestions=0, reported=True,
                      claimed_posts=1)
    result = score(POLICY_V1_RULES, facts)
    assert result.points >= 800 and result.stars == 0 and result.missing == ("未提出建议",)


def test_working_days_and_hours_text() -> None:
    assert working_days_between(date(2026, 3, 6), date(2026, 3, 9)) == 1  # Friday → Monday
    assert hours_text(90) == "1.5" and hours_text(0) == "0.0" and hours_text(5) == "0.1"


def test_a_session_zeroed_by_a_complaint_cannot_be_certified_or_rejected() -> None:
    s = session()
    s.rate(rating=Rating.GOOD, rater_role=Role.RESIDENT)
    assert s.uphold_complaint(reason="投诉属实") == 0
    with pytest.raises(SessionAlreadyDecided):
        s.certify(certified_by=uuid4(), certified_on=date(2026, 3, 4))
    with pytest.raises(SessionAlreadyDecided):
        s.reject(reason="x")
