"""签到签退 (issue #15 part 1): a community opens an activity and shows a rotating signed code; members
check in and out by scanning it (each scan its own signed event); a session is drafted from the presence
within the activity's window with assurance checked_in when it reaches the region's share (default
60 %); a forgotten check-out is closed at the end and flagged; the organiser scans a member's code or
records a group; the office certifies as today. The clock is pinned: nothing depends on today."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from datetime import date, datetime, timedelta
from uuid import UUID

import pytest

from ledger.application import Actor, Ledger, ScanResult, setup
from ledger.domain.activities import BELOW_MINIMUM_SHARE, DRAFTED, Activity
from ledger.domain.base import CLOCK
from ledger.domain.errors import (
    ActivityClosed,
    AlreadyCheckedIn,
    AlreadyExists,
    CheckinCodeExpired,
    CheckinCodeWrongActivity,
    InvalidInput,
    MemberNotRegisteredHere,
    NotAnOrganiser,
    NotCheckedIn,
    NotFound,
    NotPermitted,
    OrganiserWithdrawn,
)
from ledger.domain.values import CHINA_TIME, Assurance, Role
from ledger.signing.statement import parse_signed_bytes, unpack
from ledger.verification import checkin_code
from ledger.verification.store import verify_store
from tests.scenario import Region, add_member, build_region

DAY = date(2026, 11, 14)  # a Saturday activity day, 09:00–11:00 China time


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, second, tzinfo=CHINA_TIME)


@pytest.fixture
def clock() -> Iterator[list[datetime]]:
    """A settable pinned clock: `clock[0] = at(9, 5)` moves it."""
    now = [at(8)]
    token = CLOCK.set(lambda: now[0])
    yield now
    CLOCK.reset(token)


@pytest.fixture
def region(clock: list[datetime]) -> Region:
    return build_region(Ledger("memory:"), members=3)


def _verifies(region: Region) -> None:
    ledger = region.ledger
    report = verify_store(ledger.database, root_public_key=region.root_public_key, region_code=ledger.region_code,
                          recorder=ledger.recorder, workers=0)
    assert report.ok, report.problems


def _open(region: Region, **changes: object) -> UUID:
    fields: dict[str, object] = dict(title="重阳节敬老活动", place="紫鑫城社区活动室", service_date=DAY,
                                     start_time="09:00", end_time="11:00", expected_members=10,
                                     post_id=region.post_id)
    fields.update(changes)
    return region.ledger.open_activity(actor=region.community, **fields)  # type: ignore[arg-type]  # test overrides


def _code(region: Region, activity_id: UUID) -> str:
    return region.ledger.checkin_code(actor=region.community, activity_id=activity_id)


def _scan(region: Region, member: Actor, activity_id: UUID, clock: list[datetime], moment: datetime) -> ScanResult:
    clock[0] = moment
    return region.ledger.scan_checkin_code(actor=member, code=_code(region, activity_id), activity_id=activity_id)


def test_check_in_and_out_drafts_a_checked_in_session(region: Region, clock: list[datetime]) -> None:
    activity_id = _open(region)
    member = region.members[0]
    assert _scan(region, member, activity_id, clock, at(8, 50)).action == "checked_in"
    result = _scan(region, member, activity_id, clock, at(10, 40, 30))
    assert (result.action, result.outcome, result.presence_minutes) == ("checked_out", DRAFTED, 100)
    assert result.session_id is not None
    session = region.ledger.get_session(result.session_id)
    assert session.assurance is Assurance.CHECKED_IN
    assert (session.start_time, session.end_time, session.minutes) == ("09:00", "10:40", 100)
    assert session.source is not None and session.source["check_out_missed"] is False
    # the office rates and certifies it as today
    region.ledger.rate_session(actor=region.community, session_id=session.id, rating="优")
    assert region.ledger.certify_session(actor=region.community, session_id=session.id) == 100
    activity = region.ledger.get_activity(activity_id)
    names = [type(e).__name__ for e in region.ledger.repository.event_store.get(activity_id)]
    assert names == ["Opened", "CheckedIn", "CheckedOut"]
    assert activity.attendance[member.actor_id]["session_id"] == session.id
    _verifies(region)


def test_each_scan_is_signed_by_the_member(region: Region, clock: list[datetime]) -> None:
    activity_id = _open(region)
    _scan(region, region.members[0], activity_id, clock, at(9))
    from ledger.signing.statement import parse_signed_bytes, unpack
    heads = [parse_signed_bytes(unpack(e.state)[1]) for e in region.ledger.recorder.select_events(activity_id)]
    assert [(h.type, h.role, h.actor) for h in heads] == [
        ("Activity.Opened", "community", str(region.community.actor_id)),
        ("Activity.CheckedIn", "member", str(region.members[0].actor_id))]


def test_presence_below_the_share_drafts_no_session_and_says_why(region: Region, clock: list[datetime]) -> None:
    activity_id = _open(region)
    member = region.members[0]
    _scan(region, member, activity_id, clock, at(9, 30))
    result = _scan(region, member, activity_id, clock, at(10, 40))  # 70 of 120 minutes: 58 % < 60 %
    assert (result.outcome, result.presence_minutes, result.session_id, result.share_min_percent) == (
        BELOW_MINIMUM_SHARE, 70, None, 60)
    assert region.ledger.get_activity(activity_id).attendance[member.actor_id]["outcome"] == BELOW_MINIMUM_SHARE


def test_the_region_sets_the_share_by_a_signed_event_with_a_reason(region: Region, clock: list[datetime]) -> None:
    region.ledger.set_presence_share(actor=region.region, percent=50, reason="区民政局2026年第3号通知")
    assert region.ledger.get_region().presence_share_min_percent == 50
    activity_id = _open(region)
    member = region.members[0]
    _scan(region, member, activity_id, clock, at(9, 30))
    assert _scan(region, member, activity_id, clock, at(10, 40)).outcome == DRAFTED  # 58 % ≥ 50 %
    with pytest.raises(InvalidInput):
        region.ledger.set_presence_share(actor=region.region, percent=0, reason="无")
    with pytest.raises(NotPermitted):
        region.ledger.set_presence_share(actor=region.community, percent=70, reason="社区自定")


def test_a_forgotten_check_out_is_closed_at_the_end_and_flagged(region: Region, clock: list[datetime]) -> None:
    activity_id = _open(region)
    forgetful, short = region.members[0], region.members[1]
    _scan(region, forgetful, activity_id, clock, at(9, 10))
    _scan(region, short, activity_id, clock, at(10, 50))
    clock[0] = at(12)
    results = {r.member_id: r for r in region.ledger.close_activity(actor=region.community, activity_id=activity_id)}
    assert results[forgetful.actor_id].outcome == DRAFTED
    assert results[forgetful.actor_id].presence_minutes == 110  # 09:10 → 11:00, the end, not 12:00
    assert results[short.actor_id].outcome == BELOW_MINIMUM_SHARE
    activity = region.ledger.get_activity(activity_id)
    assert activity.status == Activity.CLOSED
    assert activity.attendance[forgetful.actor_id]["missed"] is True
    drafted = results[forgetful.actor_id].session_id
    assert drafted is not None
    session = region.ledger.get_session(drafted)
    assert session.source is not None and session.source["check_out_missed"] is True
    with pytest.raises(ActivityClosed):
        _scan(region, region.members[2], activity_id, clock, at(12, 1))
    _verifies(region)


def test_double_check_in_and_check_out_without_check_in_are_refused(region: Region, clock: list[datetime]) -> None:
    activity_id = _open(region)
    member = region.members[0]
    clock[0] = at(9)
    code = _code(region, activity_id)
    with pytest.raises(NotCheckedIn):
        region.ledger.scan_checkin_code(actor=member, code=code, activity_id=activity_id, action="out")
    region.ledger.scan_checkin_code(actor=member, code=code, activity_id=activity_id, action="in")
    with pytest.raises(AlreadyCheckedIn):
        region.ledger.scan_checkin_code(actor=member, code=code, activity_id=activity_id, action="in")


def test_a_photo_of_the_code_expires_after_one_rotation(region: Region, clock: list[datetime]) -> None:
    activity_id = _open(region)
    clock[0] = at(9, 0, 1)
    photo = _code(region, activity_id)
    clock[0] = at(9, 0, 31)  # the next window: still accepted (a scan across a rotation)
    region.ledger.verify_checkin_code(activity_id=activity_id, code=photo)
    clock[0] = at(9, 1, 1)
    with pytest.raises(CheckinCodeExpired):
        region.ledger.scan_checkin_code(actor=region.members[0], code=photo, activity_id=activity_id)


def test_a_code_of_another_activity_is_refused(region: Region, clock: list[datetime]) -> None:
    first, second = _open(region), _open(region, title="环境整治")
    clock[0] = at(9)
    with pytest.raises(CheckinCodeWrongActivity):
        region.ledger.scan_checkin_code(actor=region.members[0], code=_code(region, first), activity_id=second)


def _stranger(region: Region) -> tuple[Actor, Actor]:
    """Another community of the region, and a member registered there."""
    ledger = region.ledger
    _, other = setup.paired_unit_and_community(ledger, region.region, unit_name="市园林局机关党委",
                                               community_name="新庄社区", street="玄武门街道")
    post = setup.first_post(ledger, other)
    return other, setup.add_member(ledger, unit=region.unit, community=other, name="外社区党员", post_ids=[post],
                                   job_title="科员", profile={"sex": "男", "education": "本科"}, personal={})


def test_a_member_of_another_community_cannot_check_in(region: Region, clock: list[datetime]) -> None:
    ledger = region.ledger
    _, stranger = _stranger(region)
    activity_id = _open(region)
    clock[0] = at(9)
    with pytest.raises(MemberNotRegisteredHere):
        ledger.scan_checkin_code(actor=stranger, code=_code(region, activity_id), activity_id=activity_id)


def test_the_organiser_scans_a_member_code_and_records_a_group(region: Region, clock: list[datetime]) -> None:
    ledger, community = region.ledger, region.community
    activity_id = _open(region)
    clock[0] = at(9)
    ledger.scan_member_code(actor=community, activity_id=activity_id, member_id=region.members[0].actor_id)
    late = add_member(region, name="党员4")
    results = ledger.record_group(actor=community, activity_id=activity_id,
                                  member_ids=[region.members[1].actor_id, region.members[2].actor_id, late.actor_id])
    assert [r.action for r in results] == ["checked_in"] * 3
    clock[0] = at(11)
    out = ledger.record_group(actor=community, activity_id=activity_id,
                              member_ids=[m.actor_id for m in region.members] + [late.actor_id], action="out")
    assert [r.outcome for r in out] == [DRAFTED] * 4
    events = ledger.recorder.select_events(activity_id)
    assert len(events) == 1 + 4 + 4  # opened, each member's check-in and check-out its own event
    sessions = [ledger.get_session(r.session_id) for r in out if r.session_id is not None]
    assert len(sessions) == 4
    assert all(s.assurance is Assurance.CHECKED_IN and s.source["in_by"] in ("member_code", "group")
               for s in sessions if s.source is not None)
    # a group with one stranger is refused whole: nothing written
    with pytest.raises(NotPermitted):
        ledger.record_group(actor=region.community, activity_id=activity_id, member_ids=[UUID(int=7)])


def test_a_community_runs_only_its_own_activities(region: Region, clock: list[datetime]) -> None:
    activity_id = _open(region)
    with pytest.raises(NotPermitted):
        region.ledger.checkin_code(actor=Actor(region.unit.actor_id, Role.COMMUNITY), activity_id=activity_id)
    with pytest.raises(NotPermitted):
        region.ledger.close_activity(actor=region.members[0], activity_id=activity_id)


def test_open_refuses_an_end_before_the_start_and_a_past_date(region: Region, clock: list[datetime]) -> None:
    with pytest.raises(InvalidInput):
        _open(region, start_time="11:00", end_time="09:00")
    with pytest.raises(InvalidInput):
        _open(region, service_date=DAY - timedelta(days=5))
    with pytest.raises(InvalidInput):
        _open(region, post_id=None)


def test_the_community_lists_its_activities_newest_first(region: Region, clock: list[datetime]) -> None:
    first, second = _open(region), _open(region, title="环境整治")
    assert [a.id for a in region.ledger.activities_of(region.community.actor_id)] == [second, first]
    assert region.ledger.activities_of(region.unit.actor_id) == []


def test_replay_equals_live_state(region: Region, clock: list[datetime]) -> None:
    activity_id = _open(region)
    _scan(region, region.members[0], activity_id, clock, at(9))
    live = region.ledger.get_activity(activity_id)
    region.ledger.evict(activity_id)
    assert region.ledger.get_activity(activity_id).attendance == live.attendance


# -- 活动组织者 ----------------------------------------------------------------------------------------------
# 活动组织者 (issue #15 part 1, "the community or an organiser it names"): the community names one of
# its registered members organiser by a signed event on the Community and can withdraw them; a named
# organiser runs the community's activities (open, show the code, scan a member's code, record a group,
# close) with their own key, while the code stays signed with the community's key; a member not named,
# a withdrawn organiser and an organiser of another community are refused with their codes; `verify`
# accepts the organiser-signed events and names a member who signs an activity event without being
# an organiser.

def _report(region: Region) -> list[str]:
    ledger = region.ledger
    report = verify_store(ledger.database, root_public_key=region.root_public_key, region_code=ledger.region_code,
                          recorder=ledger.recorder, workers=0)
    return [str(problem) for problem in report.problems]


def _open_by(region: Region, actor: Actor) -> UUID:
    return region.ledger.open_activity(actor=actor, title="重阳节敬老活动", place="紫鑫城社区活动室", service_date=DAY,
                                       start_time="09:00", end_time="11:00", expected_members=10,
                                       post_id=region.post_id, community_id=region.community.actor_id)


def _statements(ledger: Ledger, aggregate_id: UUID) -> list[tuple[str, str, str]]:
    """(event type, role, actor) of each stored event of the aggregate."""
    found = []
    for stored in ledger.recorder.select_events(aggregate_id):
        statement = parse_signed_bytes(unpack(stored.state)[1], strict=False)
        found.append((statement.type, statement.role, statement.actor))
    return found


def test_a_named_organiser_runs_the_activity_with_their_own_key(region: Region, clock: list[datetime]) -> None:
    ledger, community = region.ledger, region.community
    organiser, first, second = region.members
    ledger.name_organiser(actor=community, member_id=organiser.actor_id)
    assert ledger.organisers_of(community.actor_id) == [(organiser.actor_id, "党员1")]
    assert ledger.organised_by(organiser.actor_id) == community.actor_id
    activity_id = _open_by(region, organiser)
    clock[0] = at(9)
    code = ledger.checkin_code(actor=organiser, activity_id=activity_id)
    assert checkin_code.parse(code).key_id == ledger.key_id_of(community)  # still the community's key
    ledger.scan_checkin_code(actor=first, code=code, activity_id=activity_id)  # a member's own scan
    ledger.scan_member_code(actor=organiser, activity_id=activity_id, member_id=second.actor_id)
    ledger.record_group(actor=organiser, activity_id=activity_id, member_ids=[organiser.actor_id])
    clock[0] = at(11)
    out = ledger.scan_member_code(actor=organiser, activity_id=activity_id, member_id=second.actor_id, action="out")
    assert out.outcome == DRAFTED and out.session_id is not None
    closed = ledger.close_activity(actor=organiser, activity_id=activity_id)
    assert {r.member_id for r in closed} == {first.actor_id, organiser.actor_id}
    me = str(organiser.actor_id)
    assert _statements(ledger, activity_id) == [
        ("Activity.Opened", "member", me), ("Activity.CheckedIn", "member", str(first.actor_id)),
        ("Activity.CheckedIn", "member", me), ("Activity.CheckedIn", "member", me),
        ("Activity.CheckedOut", "member", me), ("Activity.CheckOutMissed", "member", me),
        ("Activity.CheckOutMissed", "member", me), ("Activity.Closed", "member", me)]
    assert _statements(ledger, out.session_id) == [("ServiceSession.Recorded", "member", me)]
    assert _report(region) == []  # verify accepts what the organiser signed


def test_the_office_still_runs_activities_and_an_organiser_certifies_nothing(region: Region,
                                                                              clock: list[datetime]) -> None:
    ledger, community = region.ledger, region.community
    organiser, member = region.members[0], region.members[1]
    ledger.name_organiser(actor=community, member_id=organiser.actor_id)
    activity_id = ledger.open_activity(actor=community, title="清扫楼道", place="3栋", service_date=DAY,
                                       start_time="09:00", end_time="11:00", expected_members=3,
                                       post_id=region.post_id)
    clock[0] = at(9)
    ledger.scan_member_code(actor=community, activity_id=activity_id, member_id=member.actor_id)
    clock[0] = at(11)
    result = ledger.scan_member_code(actor=organiser, activity_id=activity_id, member_id=member.actor_id,
                                     action="out")
    assert result.session_id is not None
    with pytest.raises(NotPermitted):
        ledger.certify_session(actor=organiser, session_id=result.session_id)
    with pytest.raises(NotPermitted):
        ledger.name_organiser(actor=organiser, member_id=member.actor_id)
    ledger.close_activity(actor=community, activity_id=activity_id)
    assert _report(region) == []


def test_a_member_not_named_is_refused(region: Region, clock: list[datetime]) -> None:
    ledger, member = region.ledger, region.members[1]
    with pytest.raises(NotAnOrganiser):
        _open_by(region, member)
    activity_id = _open_by(region, region.community)
    clock[0] = at(9)
    for command in (lambda: ledger.checkin_code(actor=member, activity_id=activity_id),
                    lambda: ledger.scan_member_code(actor=member, activity_id=activity_id,
                                                    member_id=region.members[2].actor_id),
                    lambda: ledger.record_group(actor=member, activity_id=activity_id,
                                                member_ids=[region.members[2].actor_id]),
                    lambda: ledger.close_activity(actor=member, activity_id=activity_id)):
        with pytest.raises(NotAnOrganiser) as refused:
            command()
        assert refused.value.code == "not_an_organiser"


def test_a_withdrawn_organiser_is_refused(region: Region, clock: list[datetime]) -> None:
    ledger, community, organiser = region.ledger, region.community, region.members[0]
    ledger.name_organiser(actor=community, member_id=organiser.actor_id)
    activity_id = _open_by(region, organiser)
    ledger.withdraw_organiser(actor=community, member_id=organiser.actor_id, reason="工作调动")
    assert ledger.organisers_of(community.actor_id) == []
    assert ledger.organised_by(organiser.actor_id) is None
    clock[0] = at(9)
    with pytest.raises(OrganiserWithdrawn) as refused:
        ledger.checkin_code(actor=organiser, activity_id=activity_id)
    assert refused.value.code == "organiser_withdrawn"
    with pytest.raises(OrganiserWithdrawn):
        ledger.close_activity(actor=organiser, activity_id=activity_id)
    with pytest.raises(OrganiserWithdrawn):
        _open_by(region, organiser)
    with pytest.raises(NotFound):  # withdrawn once: nothing left to withdraw
        ledger.withdraw_organiser(actor=community, member_id=organiser.actor_id)
    ledger.name_organiser(actor=community, member_id=organiser.actor_id)  # named again, runs again
    ledger.close_activity(actor=organiser, activity_id=activity_id)
    types = [t for t, _, _ in _statements(ledger, community.actor_id)]
    assert types.count("Community.OrganiserNamed") == 2 and types.count("Community.OrganiserWithdrawn") == 1
    assert _report(region) == []


def test_an_organiser_of_another_community_is_refused(region: Region, clock: list[datetime]) -> None:
    ledger = region.ledger
    other, stranger = _stranger(region)
    ledger.name_organiser(actor=other, member_id=stranger.actor_id)
    with pytest.raises(NotAnOrganiser):
        _open_by(region, stranger)
    activity_id = _open_by(region, region.community)
    with pytest.raises(NotAnOrganiser):
        ledger.checkin_code(actor=stranger, activity_id=activity_id)
    # … and a community names only its own registered members
    with pytest.raises(MemberNotRegisteredHere):
        ledger.name_organiser(actor=region.community, member_id=stranger.actor_id)
    ledger.name_organiser(actor=region.community, member_id=region.members[0].actor_id)
    with pytest.raises(AlreadyExists):
        ledger.name_organiser(actor=region.community, member_id=region.members[0].actor_id)
    with pytest.raises(NotPermitted):
        ledger.name_organiser(actor=region.unit, member_id=region.members[1].actor_id)


def test_verify_names_a_member_who_signs_activity_events_without_being_named(region: Region,
                                                                             clock: list[datetime]) -> None:
    """The role table lets members sign activity events; the store verifier still asks which member."""
    ledger, member = region.ledger, region.members[1]
    activity_id = _open_by(region, region.community)
    forged = ledger.get_activity(activity_id)
    forged.close(at=at(9))
    ledger._commit(member, None, forged)  # bypassing the use case: the signature itself is valid
    problems = _report(region)
    assert len(problems) == 1 and "Activity.Closed" in problems[0] and "not an organiser" in problems[0]


def test_verify_names_an_organiser_signing_after_withdrawal(region: Region, clock: list[datetime]) -> None:
    ledger, community, organiser = region.ledger, region.community, region.members[0]
    ledger.name_organiser(actor=community, member_id=organiser.actor_id)
    activity_id = _open_by(region, organiser)
    ledger.withdraw_organiser(actor=community, member_id=organiser.actor_id)
    clock[0] = at(9)
    forged = ledger.get_activity(activity_id)
    forged.check_in(member_id=region.members[1].actor_id, at=at(9), method="group")
    ledger._commit(organiser, None, forged)
    problems = _report(region)
    assert len(problems) == 1 and "Activity.CheckedIn" in problems[0]


def test_an_office_role_cannot_be_passed_off_as_an_organiser(region: Region, clock: list[datetime]) -> None:
    activity_id = _open_by(region, region.community)
    with pytest.raises(NotPermitted):
        region.ledger.close_activity(actor=Actor(region.counter.actor_id, Role.COUNTER), activity_id=activity_id)


def test_audit_accepts_an_organiser_run_activity(tmp_path: Path, clock: list[datetime]) -> None:
    """`timeledger audit`'s checks (store, Merkle log, read models) on a store holding member-signed
    activity events."""
    from projections.audit import audit

    region = build_region(Ledger(f"sqlite:///{tmp_path / 'organiser.db'}"), members=3)
    ledger, organiser = region.ledger, region.members[0]
    ledger.name_organiser(actor=region.community, member_id=organiser.actor_id)
    activity_id = _open_by(region, organiser)
    clock[0] = at(9)
    ledger.record_group(actor=organiser, activity_id=activity_id, member_ids=[m.actor_id for m in region.members[1:]])
    clock[0] = at(11)
    ledger.close_activity(actor=organiser, activity_id=activity_id)
    report = audit(ledger, root_public_key=region.root_public_key)
    assert report.ok, report
    ledger.close()
