"""Hypothesis laws of the read side.

- Scoring from the projection's yearly totals equals `scoring.score` on the sessions themselves.
- Points are monotone in certified minutes; a member who misses any basic requirement never gets a star.
- Views built incrementally (any page sizes, stops between commands, several commands per
  transaction) equal a clean rebuild from position 0, and agree with the aggregates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger.application import Actor, Ledger
from ledger.demo import at, simulated
from ledger.domain.errors import InvalidInput, LedgerError
from ledger.domain.orders import Order, Suggestion
from ledger.domain.scoring import (
    ASSURED_CLASSES,
    POINTS_SCALE,
    POLICY_V1_RULES,
    SessionFacts,
    YearFacts,
    YearTotals,
    check_rules,
    missing_requirements,
    points_text,
    score,
    score_totals,
    totals_of,
)
from ledger.domain.values import STANDARD_POSTS, Assurance, ConsentPurpose, Rating, Role
from projections import queries as q
from projections import schema as t
from tests.projections.helpers import clean_rebuild, differences, dump, fresh_views

RATINGS = [r.value for r in Rating]
ASSURANCES = [a.value for a in Assurance]

# -------------------------------------------------------------------------------------------------
# Scoring laws

sessions_st = st.lists(st.builds(SessionFacts, minutes=st.integers(1, 960), rating=st.sampled_from(RATINGS),
                                 item_key=st.sampled_from(["p1", "p2", "p3", "m1"]), excellent_order=st.booleans(),
                                 assurance=st.sampled_from(ASSURANCES)),
                       max_size=12)
facts_st = st.builds(YearFacts, sessions=sessions_st, adopted_suggestions=st.integers(0, 3),
                     suggestions=st.integers(0, 4), reported=st.booleans(), exempted=st.booleans(),
                     claimed_posts=st.integers(0, 3))
rules_st = st.fixed_dictionaries({
    "points_per_certified_hour": st.integers(0, 50),
    "rating_factor_permille": st.fixed_dictionaries({r: st.integers(0, 3000) for r in RATINGS}),
    "points_per_certified_session": st.integers(0, 20),
    "points_per_distinct_item": st.integers(0, 20),
    "points_per_excellent_order": st.integers(0, 20),
    "points_per_adopted_suggestion": st.integers(0, 20),
    "star_thresholds": st.lists(st.integers(1, 2000), min_size=5, max_size=5, unique=True).map(sorted),
}, optional={"assurance_factor_permille": st.fixed_dictionaries({a: st.integers(0, 3000) for a in ASSURANCES})})


def independent_totals(facts: YearFacts) -> YearTotals:
    """What the projector keeps for a member-year: sums, not sessions (written out here, apart from
    the domain's `totals_of`)."""
    minutes = {r: sum(s.minutes for s in facts.sessions if s.rating == r) for r in RATINGS}
    assured = [(a, r, sum(s.minutes for s in facts.sessions if (s.assurance, s.rating) == (a, r)))
               for a in ASSURANCES[1:] for r in RATINGS]
    return YearTotals(sessions=len(facts.sessions), minutes_excellent=minutes["优"], minutes_good=minutes["良"],
                      minutes_fair=minutes["一般"], assured_minutes=tuple(row for row in assured if row[2]), items=len({s.item_key for s in facts.sessions}),
                      excellent_orders=sum(1 for s in facts.sessions if s.excellent_order),
                      suggestions=facts.suggestions, adopted_suggestions=facts.adopted_suggestions,
                      reported=facts.reported, exempted=facts.exempted, claimed_posts=facts.claimed_posts)


def session_by_session(rules: dict[str, Any], facts: YearFacts) -> Fraction:
    """The policy's points written the slow way, straight from the notice's wording."""
    factor = rules["rating_factor_permille"]
    weight = rules.get("assurance_factor_permille", dict.fromkeys(ASSURANCES, 1000))
    points = sum((Fraction(s.minutes, 60) * rules["points_per_certified_hour"] * Fraction(factor[s.rating], 1000)
                  * Fraction(weight[s.assurance], 1000) for s in facts.sessions), Fraction(0))
    points += rules["points_per_certified_session"] * len(facts.sessions)
    points += rules["points_per_distinct_item"] * len({s.item_key for s in facts.sessions})
    points += rules["points_per_excellent_order"] * sum(1 for s in facts.sessions if s.excellent_order)
    return points + rules["points_per_adopted_suggestion"] * facts.adopted_suggestions


@given(facts=facts_st, rules=st.one_of(st.just(POLICY_V1_RULES), rules_st))
def test_scoring_the_yearly_totals_equals_scoring_the_sessions(facts: YearFacts, rules: dict[str, Any]) -> None:
    expected = score(rules, facts)
    assert expected.points == session_by_session(rules, facts)
    assert totals_of(facts) == independent_totals(facts)
    assert score_totals(rules, independent_totals(facts)) == expected
    assert missing_requirements(independent_totals(facts)) == missing_requirements(facts) == expected.missing
    assert expected.points_scaled == expected.points * POINTS_SCALE



def _as_typed_afterwards(facts: YearFacts) -> YearFacts:
    return YearFacts(**{**facts.__dict__, "sessions": [
        SessionFacts(**{**s.__dict__, "assurance": Assurance.SELF_REPORTED.value}) for s in facts.sessions]})


@given(facts=facts_st)
def test_policy_v1_weighs_every_assurance_alike_so_results_before_issue_15_do_not_change(facts: YearFacts) -> None:
    """v1 has no assurance factors: a year scores what it scored when every session was typed
    afterwards, and what a policy naming 1000 ‰ for every class scores."""
    assert "assurance_factor_permille" not in POLICY_V1_RULES
    expected = score(POLICY_V1_RULES, _as_typed_afterwards(facts))
    assert score(POLICY_V1_RULES, facts) == expected
    equal = {**POLICY_V1_RULES, "assurance_factor_permille": dict.fromkeys(ASSURANCES, 1000)}
    assert score(check_rules(equal), facts) == expected


def test_a_policy_weighing_assurance_changes_the_hours_points_as_it_says() -> None:
    facts = YearFacts(sessions=[
        SessionFacts(minutes=60, rating="良", item_key="p1", excellent_order=False, assurance="checked_in"),
        SessionFacts(minutes=120, rating="良", item_key="p1", excellent_order=False, assurance="imported"),
        SessionFacts(minutes=60, rating="优", item_key="p1", excellent_order=False)],
        suggestions=1, reported=True, claimed_posts=1)
    # v1: 10 + 20 + 12 for the hours (优 × 1.2), 3 × 5 for the sessions, 10 for the one post
    assert score(POLICY_V1_RULES, facts).points == 67
    weighted = check_rules({**POLICY_V1_RULES, "assurance_factor_permille": {
        "self_reported": 1000, "checked_in": 1500, "imported": 500}})
    # checked in 10 × 1.5, imported 20 × 0.5, typed afterwards 12 × 1: the counts are not weighed
    assert score(weighted, facts).points == 15 + 10 + 12 + 15 + 10
    assert score_totals(weighted, totals_of(facts)) == score(weighted, facts)
    assert {(a, r) for a, r, _ in totals_of(facts).assured_minutes} <= set(ASSURED_CLASSES)


@pytest.mark.parametrize("factors", [
    {"self_reported": 1000, "checked_in": 1000},  # a class left out
    {"self_reported": 1000, "checked_in": 1000, "imported": -1},
    {"self_reported": 1000, "checked_in": 1000, "imported": 1.5},
    {"self_reported": 1000, "checked_in": 1000, "imported": True},
    {"self_reported": 1000, "checked_in": 1000, "imported": 500, "rumoured": 0},
])
def test_assurance_factors_name_every_class_with_whole_per_mille(factors: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        check_rules({**POLICY_V1_RULES, "assurance_factor_permille": factors})

totals_st = st.builds(
    lambda sessions, items, excellent, **rest: YearTotals(
        sessions=sessions, items=min(items, sessions), excellent_orders=min(excellent, sessions), **rest),
    sessions=st.integers(0, 12), items=st.integers(0, 12), excellent=st.integers(0, 12),
    minutes_excellent=st.integers(0, 5000), minutes_good=st.integers(0, 5000), minutes_fair=st.integers(0, 5000),
    suggestions=st.integers(0, 3), adopted_suggestions=st.integers(0, 3), reported=st.booleans(),
    exempted=st.booleans(), claimed_posts=st.integers(0, 2))


@given(totals=totals_st, rating=st.sampled_from(["minutes_excellent", "minutes_good", "minutes_fair"]),
       more=st.integers(0, 5000), rules=st.one_of(st.just(POLICY_V1_RULES), rules_st))
def test_points_are_monotone_in_certified_minutes(totals: YearTotals, rating: str, more: int,
                                                   rules: dict[str, Any]) -> None:
    if totals.sessions == 0:  # minutes come with sessions
        totals = YearTotals(**{**totals.__dict__, "sessions": 1})
    longer = YearTotals(**{**totals.__dict__, rating: getattr(totals, rating) + more})
    assert score_totals(rules, longer).points >= score_totals(rules, totals).points
    if not missing_requirements(totals):
        assert score_totals(rules, longer).stars >= score_totals(rules, totals).stars


@given(totals=totals_st, rules=st.one_of(st.just(POLICY_V1_RULES), rules_st))
def test_a_member_missing_a_basic_requirement_never_gets_a_star(totals: YearTotals, rules: dict[str, Any]) -> None:
    result = score_totals(rules, totals)
    if result.missing:
        assert result.stars == 0
    excused = totals.exempted and not totals.reported  # 有故 excuses not reporting, nothing more
    if not excused and (not totals.reported or totals.claimed_posts < 1 or totals.sessions < 2
                        or totals.suggestions < 1):
        assert result.missing and result.stars == 0


# -------------------------------------------------------------------------------------------------
# Rebuild equals incremental: random ledger programs


@dataclass
class World:
    ledger: Ledger
    region: Actor
    units: list[Actor]
    communities: list[Actor]
    counters: list[Actor]
    residents: list[Actor]
    menus: list[UUID]
    items: list[UUID]
    members: list[UUID] = field(default_factory=list)
    sessions: list[UUID] = field(default_factory=list)
    suggestions: list[UUID] = field(default_factory=list)
    policies: int = 1
    day: date = date(2026, 3, 1)

    def snapshot(self) -> tuple[int, int, int, int]:
        return len(self.members), len(self.sessions), len(self.suggestions), self.policies

    def restore(self, snapshot: tuple[int, int, int, int]) -> None:
        members, sessions, suggestions, self.policies = snapshot
        del self.members[members:], self.sessions[sessions:], self.suggestions[suggestions:]


def make_world(ledger: Ledger) -> World:
    with simulated(at(date(2026, 1, 2), 9)):
        ledger.init_region(code="320102", name="南京市玄武区")
        region = ledger.region_actor()
        units = [Actor(ledger.register_unit(actor=region, name=f"单位{i}", unit_type="机关", declared_members=3),
                       Role.UNIT) for i in range(2)]
        communities = [Actor(ledger.register_community(actor=region, name=f"社区{i}", county="玄武区", street="街道"),
                             Role.COMMUNITY) for i in range(2)]
        menus = [ledger.publish_menu_item(actor=c, title="陪同就医") for c in communities]
        items = [ledger.list_catalogue_item(actor=c, name="毛巾", price_minutes=20) for c in communities]
        counters = [Actor(ledger.open_counter(actor=c, name="收银台"), Role.COUNTER) for c in communities]
        residents = [Actor(ledger.register_resident(actor=c, label="居民"), Role.RESIDENT) for c in communities]
        world = World(ledger, region, units, communities, counters, residents, menus, items)
        for index in range(3):  # three members, two of them registered: most commands have a target
            world.members.append(ledger.enrol_member(actor=units[index % 2], name=f"党员{index}",
                                                     party_status="正式"))
        for index in range(2):
            post = ledger.get_community(communities[index].actor_id).post_id(STANDARD_POSTS[0])
            ledger.register_member(actor=communities[index], member_id=world.members[index], post_ids=[post])
    return world


def member_community(world: World, member_id: UUID) -> int | None:
    community_id = world.ledger.get_member(member_id).community_id
    ids = [c.actor_id for c in world.communities]
    return ids.index(community_id) if community_id in ids else None


Op = Callable[[World, st.DataObject], None]


def pick(data: st.DataObject, values: list[Any]) -> Any:
    if not values:
        raise LookupError("nothing to pick")
    return values[data.draw(st.integers(0, len(values) - 1))]


def op_enrol(w: World, data: st.DataObject) -> None:
    unit = pick(data, w.units)
    w.members.append(w.ledger.enrol_member(actor=unit, name=data.draw(st.sampled_from(["张三", "李四", "王五"])),
                                           party_status="正式"))


def op_register(w: World, data: st.DataObject) -> None:
    member, c = pick(data, w.members), data.draw(st.integers(0, 1))
    community = w.ledger.get_community(w.communities[c].actor_id)
    posts = [community.post_id(name) for name in data.draw(st.lists(st.sampled_from(STANDARD_POSTS[:3]),
                                                                    min_size=1, max_size=2, unique=True))]
    w.ledger.register_member(actor=w.communities[c], member_id=member, post_ids=posts,
                             personal={"mobile": "13900000000"} if data.draw(st.booleans()) else None)


def op_post(w: World, data: st.DataObject) -> None:
    member = pick(data, w.members)
    c = member_community(w, member)
    if c is None:
        raise LookupError
    post = w.ledger.get_community(w.communities[c].actor_id).post_id(data.draw(st.sampled_from(STANDARD_POSTS[:4])))
    if data.draw(st.booleans()):
        w.ledger.claim_post(actor=w.communities[c], member_id=member, post_id=post)
    else:
        w.ledger.release_post(actor=w.communities[c], member_id=member, post_id=post)


def op_exemption(w: World, data: st.DataObject) -> None:
    member = pick(data, w.members)
    unit = Actor(w.ledger.get_member(member).unit_id, Role.UNIT)
    year = data.draw(st.sampled_from([2026, 2027]))
    if data.draw(st.booleans()):
        w.ledger.grant_exemption(actor=unit, member_id=member, year=year, reason="长期病休")
    else:
        w.ledger.withdraw_exemption(actor=unit, member_id=member, year=year)


def op_consent(w: World, data: st.DataObject) -> None:
    member = pick(data, w.members)
    unit = w.ledger.get_member(member).unit_id
    w.ledger.give_consent(actor=Actor(member, Role.MEMBER), member_id=member, purpose=ConsentPurpose.UNIT_FEEDBACK,
                          recipient=str(unit))


def op_session(w: World, data: st.DataObject) -> None:
    member = pick(data, w.members)
    c = member_community(w, member)
    if c is None:
        raise LookupError
    community = w.communities[c]
    order_id = None
    if data.draw(st.booleans()):
        order_id = w.ledger.place_order(actor=w.residents[c], community_id=community.actor_id,
                                        menu_item_id=w.menus[c])
        w.ledger.dispatch_order(actor=community, order_id=order_id, member_id=member)
        w.ledger.accept_order(actor=Actor(member, Role.MEMBER), order_id=order_id)
    minutes = data.draw(st.integers(1, 240))
    post = None if order_id else w.ledger.get_community(community.actor_id).post_id(
        data.draw(st.sampled_from(STANDARD_POSTS[:3])))
    session = w.ledger.record_session(
        actor=Actor(member, Role.MEMBER), member_id=member, activity="服务", content="内容", place="社区",
        service_date=w.day - timedelta(days=data.draw(st.integers(0, 3))), start_time="08:00", end_time="12:00",
        minutes=minutes, post_id=post, order_id=order_id)
    w.sessions.append(session)
    if data.draw(st.booleans()):  # rate and certify at once, often
        w.ledger.rate_session(actor=w.residents[c] if order_id else community, session_id=session,
                              rating=data.draw(st.sampled_from(RATINGS)))
        w.ledger.certify_session(actor=community, session_id=session)


def _session_community(w: World, session_id: UUID) -> Actor:
    community_id = w.ledger.get_session(session_id).community_id
    return next(c for c in w.communities if c.actor_id == community_id)


def op_decide(w: World, data: st.DataObject) -> None:
    session = pick(data, w.sessions)
    community = _session_community(w, session)
    action = data.draw(st.sampled_from(["rate", "certify", "reject", "correct", "redate", "complaint"]))
    if action == "rate":
        w.ledger.rate_session(actor=community, session_id=session, rating=data.draw(st.sampled_from(RATINGS)))
    elif action == "certify":
        w.ledger.certify_session(actor=community, session_id=session)
    elif action == "reject":
        w.ledger.reject_session(actor=community, session_id=session, reason="无法核实")
    elif action == "correct":
        w.ledger.correct_session(actor=community, session_id=session,
                                 changes={"minutes": data.draw(st.integers(1, 240))}, reason="更正")
    elif action == "redate":  # may move the session into another year
        w.ledger.correct_session(actor=community, session_id=session,
                                 changes={"service_date": w.day - timedelta(days=data.draw(st.integers(0, 400)))},
                                 reason="更正日期")
    else:
        w.ledger.uphold_complaint(actor=community, session_id=session, reason="投诉属实")


def op_suggest(w: World, data: st.DataObject) -> None:
    if w.suggestions and data.draw(st.booleans()):
        suggestion = pick(data, w.suggestions)
        community_id = w.ledger._get(suggestion, Suggestion).community_id
        community = next(c for c in w.communities if c.actor_id == community_id)
        if data.draw(st.booleans()):
            w.ledger.adopt_suggestion(actor=community, suggestion_id=suggestion)
        else:
            w.ledger.forward_suggestion(actor=community, suggestion_id=suggestion, agency="区城管局")
        return
    member = pick(data, w.members)
    w.suggestions.append(w.ledger.submit_suggestion(actor=Actor(member, Role.MEMBER), content="建议"))


def op_redeem(w: World, data: st.DataObject) -> None:
    member = pick(data, w.members)
    c = data.draw(st.integers(0, 1))
    w.ledger.redeem(actor=w.counters[c], member_id=member, redemption_id=uuid4(),
                    items=[(w.items[c], data.draw(st.integers(1, 3)))])


def op_policy(w: World, data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        rules = {**POLICY_V1_RULES, "points_per_certified_hour": data.draw(st.integers(1, 30))}
        w.ledger.publish_scoring_policy(actor=w.region, version=w.policies + 1, rules=rules, note="",
                                        from_year=data.draw(st.sampled_from([2025, 2026, 2027])))
        w.policies += 1
    else:
        w.ledger.rescore_year(actor=w.region, year=data.draw(st.sampled_from([2026, 2027])),
                              version=data.draw(st.integers(1, w.policies)))


OPS: list[Op] = [op_enrol, op_register, op_register, op_post, op_exemption, op_consent, op_session, op_session,
                 op_session, op_session, op_decide, op_decide, op_decide, op_suggest, op_suggest, op_redeem, op_policy]


def run_op(world: World, data: st.DataObject) -> None:
    op = data.draw(st.sampled_from(OPS))
    try:
        op(world, data)
    except (LedgerError, LookupError):
        pass  # not possible in this state (the ledger refused, or nothing to act on): a no-op


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_incremental_views_equal_a_clean_rebuild_and_the_aggregates(data: st.DataObject) -> None:
    ledger = Ledger("memory:")
    world = make_world(ledger)
    views = fresh_views(ledger)
    try:
        for _ in range(data.draw(st.integers(20, 60), label="steps")):
            world.day += timedelta(days=data.draw(st.integers(0, 60)))
            with simulated(at(world.day, 10)):
                if data.draw(st.integers(0, 4)) == 0:  # several commands in one transaction
                    snapshot = world.snapshot()
                    try:
                        with ledger.batch():
                            for _ in range(data.draw(st.integers(2, 5))):
                                world_op_or_abort(world, data)
                    except _Abort:
                        world.restore(snapshot)  # nothing of the batch was saved
                else:
                    run_op(world, data)
            if data.draw(st.integers(0, 3)) == 0:
                views.catch_up(page_events=data.draw(st.integers(1, 25), label="page"),
                               events_max=data.draw(st.none() | st.integers(1, 60), label="stop"))
        views.catch_up(page_events=data.draw(st.integers(1, 50)))
        event(f"sessions: {len(world.sessions) // 5 * 5}+")
        event(f"events: {(ledger.recorder.max_notification_id() or 0) // 100 * 100}+")
        incremental = dump(views)
        assert not differences(incremental, clean_rebuild(ledger))
        assert not differences(incremental, clean_rebuild(ledger, page_events=1))
        agree_with_aggregates(world, views)
        scores_agree_with_the_domain(world, views)
    finally:
        views.engine.dispose()
        ledger.close()


class _Abort(Exception):
    pass


def world_op_or_abort(world: World, data: st.DataObject) -> None:
    """Inside a batch a refused command aborts the whole batch (all or nothing)."""
    op = data.draw(st.sampled_from(OPS))
    try:
        op(world, data)
    except (LedgerError, LookupError) as error:
        raise _Abort from error


def agree_with_aggregates(world: World, views: Any) -> None:
    ledger = world.ledger
    with views.engine.connect() as connection:
        accounts = {row.member_id: row for row in connection.execute(sa.select(t.accounts))}
        sessions = {row.session_id: row for row in connection.execute(sa.select(t.sessions))}
        members = {row.member_id: row for row in connection.execute(sa.select(t.members))}
        stale = connection.execute(sa.select(sa.func.count()).select_from(t.member_years)
                                   .where(t.member_years.c.stale.is_(True))).scalar_one()
    assert stale == 0
    for member_id in world.members:
        member = ledger.get_member(member_id)
        row = members[str(member_id)]
        assert (row.community_id, row.reported_on) == (
            str(member.community_id) if member.community_id else None,
            member.reported_on.isoformat() if member.reported_on else None)
        if member.community_id is not None:
            account = ledger.get_account(member_id)
            view = accounts[str(member_id)]
            assert (view.available_minutes, view.owed_minutes, view.redeemed_minutes, view.clawed_back_minutes) == (
                account.balance_minutes, account.owed_minutes, account.redeemed_minutes_total,
                account.clawed_back_minutes_total)
            assert view.deposited_minutes == account.credited_minutes_total
    for session_id in world.sessions:
        session = ledger.get_session(session_id)
        view = sessions[str(session_id)]
        assert (view.status, view.certified_minutes, view.minutes, view.rating, view.service_date) == (
            session.status, session.certified_minutes, session.minutes,
            session.rating.value if session.rating else None, session.service_date.isoformat())


def scores_agree_with_the_domain(world: World, views: Any) -> None:
    """The read side's points, stars and missing requirements equal the domain's `scoring.score` of
    the member-year's facts, gathered here from the aggregates themselves (not from the views)."""
    ledger = world.ledger
    sessions = [ledger.get_session(session_id) for session_id in world.sessions]
    suggestions = [ledger._get(suggestion_id, Suggestion) for suggestion_id in world.suggestions]
    years = {2026} | {s.service_date.year for s in sessions}
    for year in sorted(years):
        shown = {my.member.member_id: my for my in q.member_years(views, year=year)}
        for member_id in world.members:
            member = ledger.get_member(member_id)
            reported = member.reported_on is not None and member.reported_on.year <= year
            facts = YearFacts(
                sessions=[SessionFacts(minutes=s.certified_minutes, rating=s.rating.value, item_key=item_key(ledger, s),
                                       excellent_order=s.rating == Rating.EXCELLENT and fulfilled(ledger, s))
                          for s in sessions if s.member_id == member_id and s.service_date.year == year
                          and s.status == s.CERTIFIED and not s.complaint_upheld and s.certified_minutes > 0],
                suggestions=sum(1 for g in suggestions if g.member_id == member_id and g.submitted_on.year == year),
                adopted_suggestions=sum(1 for g in suggestions if g.member_id == member_id
                                        and g.submitted_on.year == year and g.status == g.ADOPTED),
                reported=reported, exempted=year in member.exemptions,
                claimed_posts=len(member.posts) if reported else 0)
            my = shown.get(str(member_id))
            if my is None:
                continue  # not in the year's scope (the views list members from their enrolment)
            assert my.missing == missing_requirements(facts), (year, member_id)
            if my.policy_version is None:
                assert my.points is None and my.stars == 0
                continue
            expected = score(ledger.get_scoring_policy(my.policy_version).rules, facts)
            assert (my.points, my.stars, my.missing) == (expected.points, expected.stars, expected.missing)
            assert my.points_text == points_text(expected.points)


def item_key(ledger: Ledger, session: Any) -> str:
    if session.post_id is not None:
        return f"post:{session.post_id}"
    if session.order_id is not None:
        return f"menu:{ledger._get(session.order_id, Order).menu_item_id}"
    return f"activity:{session.activity}"


def fulfilled(ledger: Ledger, session: Any) -> bool:
    if session.order_id is None:
        return False
    order = ledger._get(session.order_id, Order)
    return bool(order.status == order.FULFILLED and order.session_id == session.id)
