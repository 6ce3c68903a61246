"""Read-model queries: plain rows for the reports and the HTTP layer.

Every function reads the view tables only (never the event store) and takes the `Views` whose
engine to use. Personal fields are never read here: they stay sealed in the events, and only the
register and the card decrypt them, when their caller allows it (see `projections.reports`).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

import sqlalchemy as sa

from ledger.domain.calendar import WorkCalendar, calendar_from_published
from ledger.domain.display import points_text
from ledger.domain.scoring import POINTS_SCALE, YearTotals
from ledger.domain.values import Assurance, ConsentPurpose
from ledger.domain.warnings import DataWarning, reported_exceeds_declared
from projections import schema as t
from projections.projector import PolicyBook, Views

NO_REASON = "无故未报到"
NOT_ENROLLED = "未录入系统"


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _year_end(year: int) -> str:
    return f"{year}-12-31"


# -------------------------------------------------------------------------------------------------
# Registers


@dataclass(frozen=True)
class RegionInfo:
    code: str
    name: str
    display_name: str
    position: int  # the tracking position the views describe


@dataclass(frozen=True)
class UnitInfo:
    unit_id: str
    name: str
    unit_type: str
    declared_members: int
    community_id: str | None


@dataclass(frozen=True)
class CommunityInfo:
    community_id: str
    name: str
    county: str
    street: str


def region(views: Views) -> RegionInfo:
    with views.engine.connect() as connection:
        row = connection.execute(sa.select(t.region)).first()
        position = connection.execute(sa.select(t.tracking.c.position)
                                      .where(t.tracking.c.name == t.TRACKING_NAME)).scalar_one()
    if row is None:
        return RegionInfo(code="", name="", display_name="", position=int(position))
    return RegionInfo(code=row.code, name=row.name, display_name=row.display_name, position=int(position))


def work_calendar(views: Views) -> WorkCalendar:
    """The working-day calendar in force as the views know it: the region's published years over
    the shipped State Council calendars (the domain's rule, `calendar_from_published`)."""
    with views.engine.connect() as connection:
        rows = connection.execute(sa.select(t.calendars)).all()
    return calendar_from_published({row.year: {
        "version": row.version, "holidays": json.loads(row.holidays_json), "workdays": json.loads(row.workdays_json),
        "source": row.source, "published_on": row.published_on} for row in rows})


def units(views: Views) -> list[UnitInfo]:
    with views.engine.connect() as connection:
        rows = connection.execute(sa.select(t.units).order_by(t.units.c.position)).all()
    return [UnitInfo(r.unit_id, r.name, r.unit_type, r.declared_members, r.community_id) for r in rows]


def communities(views: Views) -> list[CommunityInfo]:
    with views.engine.connect() as connection:
        rows = connection.execute(sa.select(t.communities).order_by(t.communities.c.position)).all()
    return [CommunityInfo(r.community_id, r.name, r.county, r.street) for r in rows]


@dataclass(frozen=True)
class MemberRecord:
    """One member as the registers show them (no personal fields)."""

    member_id: str
    name: str
    unit_id: str | None
    unit_name: str
    unit_type: str
    job_title: str
    party_status: str
    enrolled_on: date
    community_id: str | None
    community_name: str
    reported_on: date | None
    report_late: bool
    sex: str
    education: str
    party_joined: str
    specialities: str
    hobbies: str
    available_time: str
    willing_other_service: bool
    has_personal: bool
    personal_erased: bool
    closed_on: date | None
    posts: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    unit_feedback_consent: bool = False


def members(views: Views, *, year: int | None = None, unit_id: str | None = None,
            community_id: str | None = None, member_id: str | None = None,
            reported_only: bool = False) -> list[MemberRecord]:
    """Members in scope: enrolled by the end of `year` and not moved away before it ended."""
    m, u, c = t.members, t.units, t.communities
    query = (sa.select(m, u.c.name.label("unit_name"), u.c.unit_type, c.c.name.label("community_name"))
             .select_from(m.outerjoin(u, u.c.unit_id == m.c.unit_id)
                          .outerjoin(c, c.c.community_id == m.c.community_id)))
    if year is not None:
        query = query.where(m.c.enrolled_on <= _year_end(year),
                            sa.or_(m.c.closed_on.is_(None), m.c.closed_on > _year_end(year)))
        if reported_only:
            query = query.where(m.c.reported_on <= _year_end(year))
    elif reported_only:
        query = query.where(m.c.reported_on.is_not(None))
    if unit_id is not None:
        query = query.where(m.c.unit_id == unit_id)
    if community_id is not None:
        query = query.where(m.c.community_id == community_id)
    if member_id is not None:
        query = query.where(m.c.member_id == member_id)
    query = query.order_by(m.c.reported_on.is_(None), m.c.reported_on, m.c.enrolled_on, m.c.name, m.c.member_id)
    with views.engine.connect() as connection:
        rows = connection.execute(query).all()
        ids = [r.member_id for r in rows]
        posts = _grouped(connection, sa.select(t.member_posts.c.member_id, t.member_posts.c.post_name)
                         .order_by(t.member_posts.c.claimed_on, t.member_posts.c.post_name),
                         t.member_posts.c.member_id, ids)
        teams = _grouped(connection, sa.select(t.member_teams.c.member_id, t.teams.c.name)
                         .select_from(t.member_teams.join(t.teams, t.teams.c.team_id == t.member_teams.c.team_id))
                         .order_by(t.teams.c.name), t.member_teams.c.member_id, ids)
        consents = _grouped(connection, sa.select(t.consents.c.member_id, t.consents.c.recipient)
                            .where(t.consents.c.purpose == ConsentPurpose.UNIT_FEEDBACK.value),
                            t.consents.c.member_id, ids)
    return [MemberRecord(
        member_id=r.member_id, name=r.name, unit_id=r.unit_id, unit_name=r.unit_name or "",
        unit_type=r.unit_type or "", job_title=r.job_title or "", party_status=r.party_status,
        enrolled_on=date.fromisoformat(r.enrolled_on), community_id=r.community_id,
        community_name=r.community_name or "", reported_on=_day(r.reported_on), report_late=r.report_late,
        sex=r.sex or "", education=r.education or "", party_joined=r.party_joined or "",
        specialities=r.specialities or "", hobbies=r.hobbies or "", available_time=r.available_time or "",
        willing_other_service=r.willing_other_service, has_personal=r.has_personal,
        personal_erased=r.personal_erased, closed_on=_day(r.closed_on), posts=tuple(posts.get(r.member_id, ())),
        teams=tuple(teams.get(r.member_id, ())),
        unit_feedback_consent=r.unit_id is not None and r.unit_id in consents.get(r.member_id, ()),
    ) for r in rows]


def _grouped(connection: sa.Connection, query: sa.Select[Any], key: sa.ColumnElement[Any],
             ids: Sequence[str]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    if not ids:
        return grouped
    if len(ids) > 900:  # a long IN list costs more than reading the whole (small) table
        rows = connection.execute(query).all()
    else:
        rows = connection.execute(query.where(key.in_(list(ids)))).all()
    wanted = set(ids)
    for row in rows:
        if row[0] in wanted:
            grouped[row[0]].append(row[1])
    return grouped


# -------------------------------------------------------------------------------------------------
# Points, stars and compliance


@dataclass(frozen=True)
class MemberYear:
    """One member's year: service, points, stars, the basic requirements and award eligibility."""

    member: MemberRecord
    year: int
    sessions: int = 0
    certified_minutes: int = 0
    sessions_excellent: int = 0
    sessions_good: int = 0
    sessions_fair: int = 0
    suggestions: int = 0
    adopted_suggestions: int = 0
    forwarded_suggestions: int = 0
    items: int = 0
    exemption: str | None = None
    policy_version: int | None = None
    points: Fraction | None = Fraction(0)  # exact; None when no scoring policy covers the year
    stars: int = 0
    missing: tuple[str, ...] = ()
    assured_minutes: tuple[tuple[str, str, int], ...] = ()  # scoring.YearTotals.assured_minutes

    @property
    def minutes_by_assurance(self) -> dict[str, int]:
        """Certified minutes by how they were recorded (values.Assurance, every class, in its order)."""
        found = {assurance.value: 0 for assurance in Assurance}
        for assurance, _, minutes in self.assured_minutes:
            found[assurance] += minutes
        found[Assurance.SELF_REPORTED.value] = self.certified_minutes - sum(found.values())
        return found

    @property
    def points_text(self) -> str:
        """The points as every page and paper shows them (`scoring.points_text`)."""
        return points_text(self.points)

    @property
    def reported(self) -> bool:
        return self.member.reported_on is not None and self.member.reported_on.year <= self.year

    @property
    def requirements_met(self) -> bool:
        return not self.missing

    @property
    def eligible(self) -> bool:
        """取消当年评先评优资格 unless the basic requirements are met (or the unit excused the year)."""
        return not self.missing

    @property
    def reason(self) -> str:
        if self.missing:
            return "；".join(self.missing)
        if self.exemption is not None:
            return f"有故：{self.exemption}"
        return "达到基本服务要求"


def member_years(views: Views, *, year: int, unit_id: str | None = None, community_id: str | None = None,
                 member_id: str | None = None) -> list[MemberYear]:
    """Every member in scope for the year, with or without activity in it."""
    records = members(views, year=year, unit_id=unit_id, community_id=community_id, member_id=member_id)
    my = t.member_years
    ids = [r.member_id for r in records]
    with views.engine.connect() as connection:
        stored = {row.member_id: row for row in _rows_for(connection, sa.select(my).where(my.c.year == year),
                                                          my.c.member_id, ids)}
        exempt = {row.member_id: row.reason for row in _rows_for(
            connection, sa.select(t.exemptions.c.member_id, t.exemptions.c.reason).where(t.exemptions.c.year == year),
            t.exemptions.c.member_id, ids)}
        book = PolicyBook.load(connection)
    result = []
    for record in records:
        row = stored.get(record.member_id)
        exemption = exempt.get(record.member_id)
        reported = record.reported_on is not None and record.reported_on.year <= year
        counts = {column: getattr(row, column) if row is not None else 0 for column in COUNT_COLUMNS}
        totals = YearTotals(
            sessions=counts["sessions"], minutes_excellent=counts["minutes_excellent"],
            minutes_good=counts["minutes_good"], minutes_fair=counts["minutes_fair"],
            assured_minutes=t.assured_minutes(row) if row is not None else (), items=row.items if row is not None else 0, excellent_orders=counts["excellent_orders"],
            suggestions=counts["suggestions"], adopted_suggestions=counts["adopted_suggestions"], reported=reported,
            exempted=exemption is not None, claimed_posts=len(record.posts) if reported else 0)
        points: Fraction | None
        if row is not None and not row.stale:
            version, stars = row.policy_version, row.stars
            points = Fraction(row.points_scaled, POINTS_SCALE) if row.points_scaled is not None else None
            missing = tuple(row.missing.split("；")) if row.missing else ()
        else:  # nothing happened in the year, or the score is not refreshed yet: score it now
            version, scored, missing = book.score(year, totals)
            points, stars = (scored.points, scored.stars) if scored is not None else (None, 0)
        result.append(MemberYear(
            member=record, year=year, sessions=counts["sessions"], certified_minutes=counts["certified_minutes"],
            sessions_excellent=counts["sessions_excellent"], sessions_good=counts["sessions_good"],
            sessions_fair=counts["sessions_fair"], suggestions=counts["suggestions"],
            adopted_suggestions=counts["adopted_suggestions"], forwarded_suggestions=counts["forwarded_suggestions"],
            items=totals.items, exemption=exemption, policy_version=version, points=points, stars=stars,
            missing=missing, assured_minutes=totals.assured_minutes))
    return result


COUNT_COLUMNS = t.MEMBER_YEAR_COUNTS


def _rows_for(connection: sa.Connection, query: sa.Select[Any], key: sa.ColumnElement[Any],
              ids: Sequence[str]) -> list[Any]:
    if not ids:
        return []
    if len(ids) > 900:
        wanted = set(ids)
        return [row for row in connection.execute(query) if row[0] in wanted]
    return list(connection.execute(query.where(key.in_(list(ids)))))


# -------------------------------------------------------------------------------------------------
# Service records (附件5)


@dataclass(frozen=True)
class SessionRecord:
    session_id: str
    service_date: date
    start_time: str
    end_time: str
    activity: str
    content: str
    place: str
    certified_minutes: int
    rating: str
    certified_by: str  # the certifying community's name
    certified_on: date | None
    late: bool
    corrections: int
    post_name: str
    order_title: str
    organiser: str = ""  # 活动组织方, who rated the session with the community
    assurance: str = "self_reported"  # values.Assurance: typed afterwards, checked in at the venue, imported


def certified_sessions(views: Views, *, year: int | None = None, member_id: str | None = None,
                       community_id: str | None = None) -> list[SessionRecord]:
    """Certified sessions that count (an upheld complaint zeroes one), in service order."""
    s, c, p, o = t.sessions, t.communities, t.posts, t.orders
    query = (sa.select(s, c.c.name.label("certifier"), p.c.name.label("post_name"),
                       o.c.menu_title.label("order_title"))
             .select_from(s.outerjoin(c, c.c.community_id == s.c.certified_by)
                          .outerjoin(p, p.c.post_id == s.c.post_id).outerjoin(o, o.c.order_id == s.c.order_id))
             .where(s.c.status == "certified", s.c.complaint_upheld.is_(False), s.c.certified_minutes > 0)
             .order_by(s.c.service_date, s.c.start_time, s.c.position))
    if year is not None:
        query = query.where(s.c.year == year)
    if member_id is not None:
        query = query.where(s.c.member_id == member_id)
    if community_id is not None:
        query = query.where(s.c.community_id == community_id)
    with views.engine.connect() as connection:
        rows = connection.execute(query).all()
    return [SessionRecord(
        session_id=r.session_id, service_date=date.fromisoformat(r.service_date), start_time=r.start_time,
        end_time=r.end_time, activity=r.activity, content=r.content, place=r.place,
        certified_minutes=r.certified_minutes, rating=r.rating or "", certified_by=r.certifier or "",
        certified_on=_day(r.certified_on), late=r.late, corrections=r.corrections, post_name=r.post_name or "",
        order_title=r.order_title or "", organiser=r.organiser or "", assurance=r.assurance) for r in rows]


# -------------------------------------------------------------------------------------------------
# Report slips (附件1)


@dataclass(frozen=True)
class SlipRecord:
    """A 报到单 as the unit issued it, and its 回执单 once the member registered at the community."""

    slip_id: str
    member: MemberRecord
    unit_name: str
    community: CommunityInfo
    issued_on: date
    deadline: date
    receipt_sent_on: date | None
    registered: bool  # the member registered at the slip's community


def slip(views: Views, slip_id: str) -> SlipRecord | None:
    """The slip with its member, unit and community, or None if the views have no such slip."""
    s, u, c = t.slips, t.units, t.communities
    query = (sa.select(s, u.c.name.label("unit_name"), c.c.name.label("community_name"), c.c.county, c.c.street)
             .select_from(s.outerjoin(u, u.c.unit_id == s.c.unit_id)
                          .outerjoin(c, c.c.community_id == s.c.community_id))
             .where(s.c.slip_id == slip_id))
    with views.engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    found = members(views, member_id=row.member_id)
    if not found:
        return None
    member = found[0]
    return SlipRecord(
        slip_id=row.slip_id, member=member, unit_name=row.unit_name or "",
        community=CommunityInfo(row.community_id, row.community_name or "", row.county or "", row.street or ""),
        issued_on=date.fromisoformat(row.issued_on), deadline=date.fromisoformat(row.deadline),
        receipt_sent_on=_day(row.receipt_sent_on),
        registered=member.community_id == row.community_id and member.reported_on is not None)


@dataclass(frozen=True)
class ImportedYear:
    """Service a member brought from another region (转移接续), for one year."""

    source: str  # the region code the history comes from
    sessions: int
    certified_minutes: int


def imported_history(views: Views, *, member_id: str, year: int) -> list[ImportedYear]:
    h = t.imported_histories
    with views.engine.connect() as connection:
        rows = connection.execute(sa.select(h.c.summary_json).where(h.c.member_id == member_id)
                                  .order_by(h.c.imported_on, h.c.transfer_id)).all()
    found = []
    for row in rows:
        for source, years in sorted(json.loads(row.summary_json).items()):
            figures = years.get(str(year)) if isinstance(years, dict) else None
            if figures:
                found.append(ImportedYear(source=source, sessions=int(figures.get("sessions", 0)),
                                          certified_minutes=int(figures.get("certified_minutes", 0))))
    return found


# -------------------------------------------------------------------------------------------------
# Balances


@dataclass(frozen=True)
class Balance:
    member_id: str
    name: str
    unit_name: str
    community_id: str | None
    community_name: str
    deposited_minutes: int
    over_cap_minutes: int
    clawed_back_minutes: int
    redeemed_minutes: int
    transferred_in_minutes: int
    transferred_out_minutes: int
    available_minutes: int
    owed_minutes: int
    redemptions: int
    frozen: bool
    closed: bool


BALANCE_SUMS = ("deposited_minutes", "clawed_back_minutes", "redeemed_minutes", "transferred_in_minutes",
                "transferred_out_minutes", "available_minutes", "owed_minutes", "over_cap_minutes", "redemptions")


def balances(views: Views, *, unit_id: str | None = None, community_id: str | None = None,
             member_id: str | None = None) -> list[Balance]:
    a, m, u, c = t.accounts, t.members, t.units, t.communities
    query = (sa.select(a, m.c.name, u.c.name.label("unit_name"), m.c.community_id,
                       c.c.name.label("community_name"))
             .select_from(a.outerjoin(m, m.c.member_id == a.c.member_id)
                          .outerjoin(u, u.c.unit_id == m.c.unit_id)
                          .outerjoin(c, c.c.community_id == m.c.community_id))
             .order_by(c.c.name, m.c.name, a.c.member_id))
    if unit_id is not None:
        query = query.where(m.c.unit_id == unit_id)
    if community_id is not None:
        query = query.where(m.c.community_id == community_id)
    if member_id is not None:
        query = query.where(a.c.member_id == member_id)
    with views.engine.connect() as connection:
        rows = connection.execute(query).all()
    return [Balance(
        member_id=r.member_id, name=r.name or "", unit_name=r.unit_name or "", community_id=r.community_id,
        community_name=r.community_name or "", deposited_minutes=r.deposited_minutes,
        over_cap_minutes=r.over_cap_minutes, clawed_back_minutes=r.clawed_back_minutes,
        redeemed_minutes=r.redeemed_minutes, transferred_in_minutes=r.transferred_in_minutes,
        transferred_out_minutes=r.transferred_out_minutes, available_minutes=r.available_minutes,
        owed_minutes=r.owed_minutes, redemptions=r.redemptions, frozen=r.frozen, closed=r.closed) for r in rows]


@dataclass(frozen=True)
class BalanceTotals:
    label: str  # community name, or 全区合计
    community_id: str | None
    accounts: int
    sums: dict[str, int] = field(default_factory=dict)


def balance_totals(views: Views) -> tuple[list[BalanceTotals], BalanceTotals]:
    """Per community (by the member's community) and for the whole region, summed in SQL."""
    a, m, c = t.accounts, t.members, t.communities
    sums = [sa.func.coalesce(sa.func.sum(a.c[name]), 0).label(name) for name in BALANCE_SUMS]
    with views.engine.connect() as connection:
        by_community = connection.execute(
            sa.select(m.c.community_id, c.c.name, sa.func.count().label("accounts"), *sums)
            .select_from(a.outerjoin(m, m.c.member_id == a.c.member_id)
                         .outerjoin(c, c.c.community_id == m.c.community_id))
            .group_by(m.c.community_id, c.c.name).order_by(c.c.name)).all()
        whole = connection.execute(sa.select(sa.func.count().label("accounts"), *sums).select_from(a)).one()
    rows = [BalanceTotals(label=r.name or "（未报到）", community_id=r.community_id, accounts=r.accounts,
                          sums={name: int(r._mapping[name]) for name in BALANCE_SUMS}) for r in by_community]
    total = BalanceTotals(label="全区合计", community_id=None, accounts=whole.accounts,
                          sums={name: int(whole._mapping[name]) for name in BALANCE_SUMS})
    return rows, total


# -------------------------------------------------------------------------------------------------
# 附件3 and the overview


@dataclass(frozen=True)
class UnitStats:
    unit: UnitInfo
    declared_members: int
    enrolled: int
    reported: int
    reported_late: int
    communities_involved: int
    not_reported: int
    reasons: tuple[tuple[str, int], ...]  # (reason, members), most frequent first
    active: int  # members with at least one certified session in the year
    certified_minutes: int

    @property
    def reasons_text(self) -> str:
        return "；".join(f"{reason}{count}人" for reason, count in self.reasons)

    @property
    def warnings(self) -> list[DataWarning]:
        """附件3's contradictions (printed on the form, shown where 在职党员总数 is entered)."""
        excess = reported_exceeds_declared(reported=self.reported, declared=self.declared_members,
                                           unit_name=self.unit.name)
        return [excess] if excess is not None else []


def unit_stats(views: Views, *, year: int, unit_id: str | None = None,
               years: Sequence[MemberYear] | None = None) -> list[UnitStats]:
    """附件3 figures per unit; `years` may pass `member_years(views, year=year)` already read."""
    chosen = [u for u in units(views) if unit_id is None or u.unit_id == unit_id]
    if years is None:
        years = member_years(views, year=year, unit_id=unit_id)
    by_unit: dict[str | None, list[MemberYear]] = defaultdict(list)
    for my in years:
        by_unit[my.member.unit_id].append(my)
    result = []
    for unit in chosen:
        mine = by_unit.get(unit.unit_id, [])
        reported = [my for my in mine if my.reported]
        reasons: Counter[str] = Counter()
        for my in mine:
            if not my.reported:
                reasons[my.exemption if my.exemption is not None else NO_REASON] += 1
        missing_from_ledger = max(0, unit.declared_members - len(mine))
        if missing_from_ledger:
            reasons[NOT_ENROLLED] += missing_from_ledger
        result.append(UnitStats(
            unit=unit, declared_members=unit.declared_members, enrolled=len(mine), reported=len(reported),
            reported_late=sum(1 for my in reported if my.member.report_late),
            communities_involved=len({my.member.community_id for my in reported}),
            not_reported=max(unit.declared_members, len(mine)) - len(reported),
            reasons=tuple(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
            active=sum(1 for my in mine if my.sessions > 0),
            certified_minutes=sum(my.certified_minutes for my in mine)))
    return result


@dataclass(frozen=True)
class CommunityStats:
    community: CommunityInfo
    registered: int
    active: int
    sessions: int
    certified_minutes: int
    suggestions: int


def community_stats(views: Views, *, year: int, community_id: str | None = None,
                    years: Sequence[MemberYear] | None = None) -> list[CommunityStats]:
    by_community: dict[str | None, list[MemberYear]] = defaultdict(list)
    if years is None:
        years = member_years(views, year=year, community_id=community_id)
    for my in years:
        if my.reported:
            by_community[my.member.community_id].append(my)
    return [CommunityStats(
        community=c, registered=len(by_community.get(c.community_id, [])),
        active=sum(1 for my in by_community.get(c.community_id, []) if my.sessions > 0),
        sessions=sum(my.sessions for my in by_community.get(c.community_id, [])),
        certified_minutes=sum(my.certified_minutes for my in by_community.get(c.community_id, [])),
        suggestions=sum(my.suggestions for my in by_community.get(c.community_id, [])))
        for c in communities(views) if community_id is None or c.community_id == community_id]


def minutes_by_month(views: Views, *, year: int) -> list[int]:
    """Certified minutes per calendar month of service (12 values)."""
    s = t.sessions
    month = sa.func.substr(s.c.service_date, 6, 2)
    with views.engine.connect() as connection:
        rows = connection.execute(
            sa.select(month.label("month"), sa.func.sum(s.c.certified_minutes).label("minutes"))
            .where(s.c.year == year, s.c.status == "certified", s.c.complaint_upheld.is_(False))
            .group_by(month)).all()
    totals = [0] * 12
    for row in rows:
        totals[int(row.month) - 1] = int(row.minutes or 0)
    return totals


def minutes_by_assurance(views: Views, *, year: int) -> dict[str, tuple[int, int]]:
    """(sessions, certified minutes) by how the hours were recorded (values.Assurance), every class
    present (zero when none): 签到签退 is stronger evidence than 事后填报 or 补录."""
    s = t.sessions
    with views.engine.connect() as connection:
        rows = connection.execute(
            sa.select(s.c.assurance, sa.func.count().label("sessions"),
                      sa.func.sum(s.c.certified_minutes).label("minutes"))
            .where(s.c.year == year, s.c.status == "certified", s.c.complaint_upheld.is_(False),
                   s.c.certified_minutes > 0)
            .group_by(s.c.assurance)).all()
    found = {row.assurance: (int(row.sessions), int(row.minutes or 0)) for row in rows}
    return {assurance.value: found.get(assurance.value, (0, 0)) for assurance in Assurance}


def minutes_by_post(views: Views, *, year: int) -> list[tuple[str, int, int]]:
    """(post or service, sessions, certified minutes), the largest first; menu orders without a post
    are counted under their menu item, other sessions under 其他."""
    s, p, o = t.sessions, t.posts, t.orders
    label = sa.func.coalesce(p.c.name, o.c.menu_title, "其他")
    with views.engine.connect() as connection:
        rows = connection.execute(
            sa.select(label.label("label"), sa.func.count().label("sessions"),
                      sa.func.sum(s.c.certified_minutes).label("minutes"))
            .select_from(s.outerjoin(p, p.c.post_id == s.c.post_id).outerjoin(o, o.c.order_id == s.c.order_id))
            .where(s.c.year == year, s.c.status == "certified", s.c.complaint_upheld.is_(False),
                   s.c.certified_minutes > 0)
            .group_by(label)).all()
    return sorted(((r.label, int(r.sessions), int(r.minutes or 0)) for r in rows), key=lambda x: (-x[2], x[0]))


def star_distribution(rows: Iterable[MemberYear]) -> list[int]:
    """Members with 0 … 5 stars."""
    counts = [0] * 6
    for my in rows:
        counts[my.stars] += 1
    return counts


# -------------------------------------------------------------------------------- lists for the API and the pages


def sessions_page(views: Views, *, year: int | None = None, community_id: str | None = None,
                  member_id: str | None = None, status: str | None = None, late: bool | None = None,
                  offset: int = 0, limit: int = 50) -> tuple[int, list[Any]]:
    """One page of service sessions (with the member's name) in log order, and how many match."""
    s, m = t.sessions, t.members
    where: list[sa.ColumnElement[bool]] = []
    if year is not None:
        where.append(s.c.year == year)
    if community_id is not None:
        where.append(s.c.community_id == community_id)
    if member_id is not None:
        where.append(s.c.member_id == member_id)
    if status is not None:
        where.append(s.c.status == status)
    if late is not None:
        where.append(s.c.late.is_(late))
    query = (sa.select(s, m.c.name.label("member_name")).select_from(s.outerjoin(m, m.c.member_id == s.c.member_id))
             .where(*where).order_by(s.c.position, s.c.session_id).offset(offset).limit(limit))
    with views.engine.connect() as connection:
        total = connection.execute(sa.select(sa.func.count()).select_from(s).where(*where)).scalar_one()
        rows = list(connection.execute(query).all())
    return int(total), rows


@dataclass(frozen=True)
class SessionFilter:
    """What an office narrows a list of its sessions to (every field optional)."""

    status: str | None = None
    late: bool | None = None
    date_from: date | None = None
    date_to: date | None = None
    post_id: str | None = None
    rating: str | None = None  # 优 / 良 / 一般, or "none": not rated yet
    name: str | None = None  # a part of the member's name


def community_sessions(views: Views, *, community_id: str, chosen: SessionFilter, offset: int = 0,
                       limit: int = 50) -> tuple[int, list[Any]]:
    """One page of a community's sessions with what was done (content, place, organiser, recipient,
    post) and the member's name, in log order, narrowed by `chosen`; and how many match."""
    s, m = t.sessions, t.members
    where: list[sa.ColumnElement[bool]] = [s.c.community_id == community_id]
    if chosen.status is not None:
        where.append(s.c.status == chosen.status)
    if chosen.late is not None:
        where.append(s.c.late.is_(chosen.late))
    if chosen.date_from is not None:
        where.append(s.c.service_date >= chosen.date_from.isoformat())
    if chosen.date_to is not None:
        where.append(s.c.service_date <= chosen.date_to.isoformat())
    if chosen.post_id is not None:
        where.append(s.c.post_id == chosen.post_id)
    if chosen.rating == "none":
        where.append(s.c.rating.is_(None))
    elif chosen.rating is not None:
        where.append(s.c.rating == chosen.rating)
    if chosen.name:
        where.append(m.c.name.contains(chosen.name, autoescape=True))
    joined = s.outerjoin(m, m.c.member_id == s.c.member_id)
    query = (sa.select(s, m.c.name.label("member_name")).select_from(joined)
             .where(*where).order_by(s.c.position, s.c.session_id).offset(offset).limit(limit))
    with views.engine.connect() as connection:
        total = connection.execute(sa.select(sa.func.count()).select_from(joined).where(*where)).scalar_one()
        rows = list(connection.execute(query).all())
    return int(total), rows


def community_slips(views: Views, *, community_id: str, limit: int) -> list[Any]:
    """Report slips addressed to a community, newest first, with the member (name, community, 报到 day)
    and the unit's name."""
    s, m, u = t.slips, t.members, t.units
    query = (sa.select(s, m.c.name, m.c.community_id.label("member_community"), m.c.reported_on,
                       u.c.name.label("unit_name"))
             .select_from(s.outerjoin(m, m.c.member_id == s.c.member_id).outerjoin(u, u.c.unit_id == s.c.unit_id))
             .where(s.c.community_id == community_id).order_by(s.c.issued_on.desc(), s.c.slip_id).limit(limit))
    with views.engine.connect() as connection:
        return list(connection.execute(query).all())


def community_orders(views: Views, *, community_id: str, limit: int) -> list[dict[str, Any]]:
    """A community's orders, open ones first (placed, then dispatched), newest first, with the member's name."""
    o, m = t.orders, t.members
    query = (sa.select(o, m.c.name.label("member_name")).select_from(o.outerjoin(m, m.c.member_id == o.c.member_id))
             .where(o.c.community_id == community_id)
             .order_by(sa.case((o.c.status == "placed", 0), (o.c.status == "dispatched", 1), else_=2),
                       o.c.placed_on.desc()).limit(limit))
    with views.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def community_suggestions(views: Views, *, community_id: str, year: int, limit: int) -> list[Any]:
    """A community's suggestions of a year, unanswered first, newest first, with the member's name."""
    sg, m = t.suggestions, t.members
    with views.engine.connect() as connection:
        return list(connection.execute(
            sa.select(sg, m.c.name)
            .select_from(sg.outerjoin(m, m.c.member_id == sg.c.member_id))
            .where(sg.c.community_id == community_id, sg.c.year == year)
            .order_by(sa.case((sg.c.status == "submitted", 0), else_=1), sg.c.submitted_on.desc())
            .limit(limit)).all())

def unit_slips(views: Views, *, unit_id: str, limit: int = 200) -> list[SlipRecord]:
    """The report slips a unit issued, newest first (at most `limit`), each with its member and
    community."""
    with views.engine.connect() as connection:
        ids = connection.execute(sa.select(t.slips.c.slip_id).where(t.slips.c.unit_id == unit_id)
                                 .order_by(t.slips.c.issued_on.desc(), t.slips.c.slip_id).limit(limit)).scalars().all()
    return [record for record in (slip(views, slip_id) for slip_id in ids) if record is not None]


@dataclass(frozen=True)
class CounterInfo:
    counter_id: str
    community_id: str
    name: str


COUNTERS_MAX = 1000  # a region's 爱心超市 counters: a few per community


def counters(views: Views) -> list[CounterInfo]:
    """The region's counters, by community then name (issue #12: the region's organisation page)."""
    with views.engine.connect() as connection:
        rows = connection.execute(sa.select(t.counters).order_by(t.counters.c.community_id, t.counters.c.name)
                                  .limit(COUNTERS_MAX)).all()
    return [CounterInfo(r.counter_id, r.community_id, r.name) for r in rows]
# -------------------------------------------------------------------------------- 三单制 for residents and members

ORDERS_LIST_MAX = 200  # a resident's or a member's orders on one page


def _with_latest_session(connection: sa.Connection, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each order with the latest session recorded against it (`session`: None when there is none):
    its state, rating and, when the community did not certify it, the reason."""
    ids = [o["order_id"] for o in orders]
    latest: dict[str, dict[str, Any]] = {}
    if ids:
        s = t.sessions
        rows = connection.execute(
            sa.select(s.c.session_id, s.c.order_id, s.c.position, s.c.service_date, s.c.activity, s.c.minutes,
                      s.c.status, s.c.rating, s.c.rejection_reason, s.c.certified_minutes)
            .where(s.c.order_id.in_(ids)).order_by(s.c.position))
        for row in rows:
            latest[row.order_id] = dict(row._mapping)  # log order: the last one wins
    return [{**o, "session": latest.get(o["order_id"])} for o in orders]


def resident_orders(views: Views, *, resident_id: str, limit: int = ORDERS_LIST_MAX) -> list[dict[str, Any]]:
    """A resident's orders, newest first, each with its member's name and its latest session."""
    o, m = t.orders, t.members
    query = (sa.select(o, m.c.name.label("member_name")).select_from(o.outerjoin(m, m.c.member_id == o.c.member_id))
             .where(o.c.resident_id == resident_id).order_by(o.c.placed_on.desc(), o.c.order_id).limit(limit))
    with views.engine.connect() as connection:
        return _with_latest_session(connection, [dict(row._mapping) for row in connection.execute(query)])


def member_orders(views: Views, *, member_id: str, limit: int = ORDERS_LIST_MAX) -> list[dict[str, Any]]:
    """The orders dispatched to a member: waiting for an answer first, then accepted, then done; newest
    first within each; each with its latest session."""
    o = t.orders
    query = (sa.select(o).where(o.c.member_id == member_id)
             .order_by(sa.case((o.c.status == "dispatched", 0), (o.c.status == "accepted", 1), else_=2),
                       o.c.placed_on.desc(), o.c.order_id).limit(limit))
    with views.engine.connect() as connection:
        return _with_latest_session(connection, [dict(row._mapping) for row in connection.execute(query)])


# -------------------------------------------------------------------------------- offline redemptions (issue #15)

OFFLINE_LIST_MAX = 200  # a community page's list of offline redemptions with a shortfall


@dataclass(frozen=True)
class OfflineExposure:
    """What counters' devices redeemed offline and synced later, and what the balance no longer covered
    (owed by the member: the region's exposure to offline capture)."""

    redemptions: int
    minutes: int
    short: int  # redemptions with a shortfall
    owed_minutes: int


def offline_exposure(views: Views, *, community_id: str | None = None) -> OfflineExposure:
    """The totals for one community's counters, or for the whole region."""
    o, c = t.offline_redemptions, t.counters
    query = (sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(o.c.minutes), 0),
                       sa.func.coalesce(sa.func.sum(sa.case((o.c.owed_added_minutes > 0, 1), else_=0)), 0),
                       sa.func.coalesce(sa.func.sum(o.c.owed_added_minutes), 0))
             .select_from(o.join(c, c.c.counter_id == o.c.counter_id)))
    if community_id is not None:
        query = query.where(c.c.community_id == community_id)
    with views.engine.connect() as connection:
        count, minutes, short, owed = connection.execute(query).one()
    return OfflineExposure(int(count), int(minutes), int(short), int(owed))


def offline_shortfalls(views: Views, *, community_id: str, limit: int = OFFLINE_LIST_MAX) -> list[dict[str, Any]]:
    """Offline redemptions at a community's counters that the member's balance no longer covered when
    they synced (double spending across devices, or spending after the device last saw the balance),
    newest first, with the member's name and the counter's."""
    o, c, a, m = t.offline_redemptions, t.counters, t.accounts, t.members
    query = (sa.select(o, c.c.name.label("counter_name"), a.c.member_id, m.c.name.label("member_name"))
             .select_from(o.join(c, c.c.counter_id == o.c.counter_id).join(a, a.c.account_id == o.c.account_id)
                          .outerjoin(m, m.c.member_id == a.c.member_id))
             .where(c.c.community_id == community_id, o.c.owed_added_minutes > 0)
             .order_by(o.c.captured_at.desc(), o.c.redemption_id).limit(limit))
    with views.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]
