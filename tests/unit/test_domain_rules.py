"""Rules of sessions, members, orders and scoring, on the aggregates alone (no I/O)."""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta
from fractions import Fraction
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.display import duration_text
from ledger.domain.errors import (
    InvalidInput,
    LastPostCannotBeReleased,
    NotPermitted,
    ReportSlipNamesAnotherCommunity,
    SessionAlreadyDecided,
    SessionNotRated,
)
from ledger.domain.limits import SERVICE_DATE_AHEAD_DAYS_MAX, SERVICE_DATE_MIN
from ledger.domain.member import Member
from ledger.domain.orders import Order
from ledger.domain.scoring import POLICY_V1_RULES, SessionFacts, YearFacts, score
from ledger.domain.service_session import ServiceSession
from ledger.domain.values import (
    ConsentPurpose,
    PartyStatus,
    Rating,
    Role,
    check_region_code,
    check_service_date,
    check_text,
    is_ascii_digits,
    working_days_between,
)


def session(**changes: object) -> ServiceSession:
    fields = dict(session_id=uuid4(), member_id=uuid4(), community_id=uuid4(), activity="敬老", content="陪伴",
                  place="活动室", service_date=date(2026, 3, 2), start_time="09:00", end_time="11:00", minutes=120,
                  post_id=None, order_id=None, organiser="社区", recipient="居民", recorded_on=date(2026, 3, 3))
    fields.update(changes)
    return ServiceSession.record(**fields)  # type: ignore[arg-type]  # the wrong type, on purpose


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


def test_working_days_and_durations() -> None:
    assert working_days_between(date(2026, 3, 6), date(2026, 3, 9)) == 1  # Friday → Monday
    assert duration_text(90) == "1:30" and duration_text(0) == "0:00" and duration_text(5) == "0:05"


def test_a_session_zeroed_by_a_complaint_cannot_be_certified_or_rejected() -> None:
    s = session()
    s.rate(rating=Rating.GOOD, rater_role=Role.RESIDENT)
    assert s.uphold_complaint(reason="投诉属实") == 0
    with pytest.raises(SessionAlreadyDecided):
        s.certify(certified_by=uuid4(), certified_on=date(2026, 3, 4))
    with pytest.raises(SessionAlreadyDecided):
        s.reject(reason="x")


# -- issue #10, defect 11: dates, code points and digits ----------------------------------------

@pytest.mark.parametrize("service_date", [date(1, 1, 1), date(2013, 12, 31)])
def test_a_session_dated_before_the_scheme_is_refused(service_date: date) -> None:
    with pytest.raises(InvalidInput, match="服务日期|service_date"):
        session(service_date=service_date)


def test_a_session_dated_on_the_first_day_of_the_scheme_is_accepted() -> None:
    assert session(service_date=SERVICE_DATE_MIN, recorded_on=date(2014, 1, 2)).service_date == SERVICE_DATE_MIN


@pytest.mark.parametrize("service_date", [date(2026, 3, 4), date(9999, 12, 31)])
def test_a_session_dated_after_its_recording_is_refused(service_date: date) -> None:
    with pytest.raises(InvalidInput):
        session(service_date=service_date)


def test_a_correction_cannot_move_a_session_before_the_scheme() -> None:
    with pytest.raises(InvalidInput, match=SERVICE_DATE_MIN.isoformat()):
        session().correct(changes={"service_date": date(1, 1, 1)}, reason="日期写错")


def test_service_dates_are_bounded_by_named_constants() -> None:
    today = date(2026, 3, 3)
    assert check_service_date(today + timedelta(days=SERVICE_DATE_AHEAD_DAYS_MAX), today)
    with pytest.raises(InvalidInput):
        check_service_date(today + timedelta(days=SERVICE_DATE_AHEAD_DAYS_MAX + 1), today)
    with pytest.raises(InvalidInput):
        check_service_date(SERVICE_DATE_MIN - timedelta(days=1), today)


DANGEROUS = ["\u0085", "\u009b", "\u0080", "\u009f", "\u007f", "\u0000", "\r", "\u202e", "\u202a", "\u2066",
             "\u2069", "\u200f", "\u061c", "\u2028", "\u2029", "\ufeff", "\ud800", "\udfff"]


@pytest.mark.parametrize("char", DANGEROUS, ids=[f"U+{ord(c):04X}" for c in DANGEROUS])
def test_control_bidi_and_surrogate_code_points_are_refused_in_text(char: str) -> None:
    with pytest.raises(InvalidInput, match="控制字符") as refused:
        check_text(f"建议{char}加装电梯", "content")
    assert f"U+{ord(char):04X}" in refused.value.detail


@pytest.mark.parametrize("text", ["建议加装电梯", "第一行\n第二行", "列\t值", "emoji 👍🏽 ok", "Ünïcödé", "ｆｕｌｌ"])
def test_ordinary_text_passes(text: str) -> None:
    assert check_text(text, "content") == text


@pytest.mark.parametrize("code", ["32０１０２", "３２０１０２", "٣٢٠١٠٢", "320102\n", " 320102", "3201020", "32010"])
def test_region_codes_are_six_ascii_digits(code: str) -> None:
    with pytest.raises(InvalidInput, match="半角"):
        check_region_code(code)


def test_an_ascii_region_code_passes() -> None:
    assert check_region_code("320102") == "320102"
    assert is_ascii_digits("320102") and not is_ascii_digits("32０１０２") and not is_ascii_digits("")


def test_a_transfer_consent_names_a_region_in_ascii_digits() -> None:
    member = Member.enrol(member_id=uuid4(), name="王芳", unit_id=uuid4(), party_status=PartyStatus.FULL,
                          job_title="", region_code="320102")
    with pytest.raises(InvalidInput, match="半角"):
        member.give_consent(consent_id=uuid4(), purpose=ConsentPurpose.TRANSFER, recipient="32０１０４")
    with pytest.raises(InvalidInput):
        member.give_consent(consent_id=uuid4(), purpose=ConsentPurpose.UNIT_FEEDBACK, recipient="32０１０４")
    member.give_consent(consent_id=uuid4(), purpose=ConsentPurpose.TRANSFER, recipient="320104")
    assert member.has_consent(ConsentPurpose.TRANSFER, "320104")


def test_registration_by_a_community_the_slip_does_not_name_is_refused() -> None:
    member = Member.enrol(member_id=uuid4(), name="王芳", unit_id=uuid4(), party_status=PartyStatus.FULL,
                          job_title="", region_code="320102")
    named, other, slip_id = uuid4(), uuid4(), uuid4()
    member.note_report_slip(slip_id=slip_id, community_id=named)
    registration = dict(slip_id=None, reported_on=date(2026, 3, 3), late=False, profile={}, personal_sealed={},
                        willing_other_service=False)
    with pytest.raises(ReportSlipNamesAnotherCommunity):
        member.register(community_id=other, **registration)  # type: ignore[arg-type]  # the wrong type, on purpose
    member.register(community_id=named, **registration)  # type: ignore[arg-type]  # the wrong type, on purpose
    assert member.community_id == named
    assert [type(e).__name__ for e in member.collect_events()] == ["Enrolled", "ReportSlipIssued", "Registered"]


@given(st.text(max_size=40))
def test_check_text_returns_only_text_without_dangerous_code_points(text: str) -> None:
    try:
        clean = check_text(text, "content", required=False)
    except InvalidInput as refusal:
        assert "U+" in refusal.detail
        return
    assert all(unicodedata.category(c) not in ("Cc", "Cs") or c in "\n\t" for c in clean)
    assert not {"\u202e", "\u2066", "\u2028", "\u0085", "\u009b"} & set(clean)


@given(st.text(alphabet=st.characters(categories=["Nd"]), min_size=6, max_size=6))
def test_a_region_code_of_non_ascii_digits_is_refused(code: str) -> None:
    if code.isascii():
        return
    with pytest.raises(InvalidInput):
        check_region_code(code)
