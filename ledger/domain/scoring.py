"""积分和星级评定: the scoring policy as a signed, versioned event, and the pure scoring function.

Scoring lives here once: the read models (projections/) keep per member-year totals and call
`score_totals` and `policy_version_for_year`. Points are exact (10 points per hour is 1/6 point per
minute): stored as a whole number of 1/60,000 points, shown with one decimal (`points_text`), and
stars compare the exact value with the thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate
from ledger.domain.display import points_text  # the display rule lives in display.py
from ledger.domain.errors import InvalidInput
from ledger.domain.values import Assurance, Rating, stable_id

POLICY_V1_RULES: dict[str, Any] = {
    "points_per_certified_hour": 10,
    "rating_factor_permille": {Rating.EXCELLENT.value: 1200, Rating.GOOD.value: 1000, Rating.FAIR.value: 800},
    "points_per_certified_session": 5,
    "points_per_distinct_item": 10,
    "points_per_excellent_order": 5,
    "points_per_adopted_suggestion": 10,
    "star_thresholds": [50, 100, 200, 400, 800],
}
RULE_KEYS = frozenset(POLICY_V1_RULES)
# A published policy may weigh the hours by how they were recorded (values.Assurance), per mille; a
# policy without it (v1 among them) weighs every class 1000 ‰, so results before #15 do not change.
ASSURANCE_FACTORS = "assurance_factor_permille"
EQUAL_ASSURANCE_FACTORS: dict[str, int] = {assurance.value: 1000 for assurance in Assurance}
POINTS_PER_RULE_MAX = 10_000


def check_rules(rules: dict[str, Any]) -> dict[str, Any]:
    if not RULE_KEYS <= set(rules) <= RULE_KEYS | {ASSURANCE_FACTORS}:
        raise InvalidInput(f"a scoring policy has exactly the rules {sorted(RULE_KEYS)} "
                           f"(and, if it weighs them, {ASSURANCE_FACTORS})")
    for key, value in rules.items():
        if key == ASSURANCE_FACTORS:
            if not isinstance(value, dict) or set(value) != set(EQUAL_ASSURANCE_FACTORS) or not all(
                    isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= POINTS_PER_RULE_MAX
                    for v in value.values()):
                raise InvalidInput("assurance factors are whole per-mille numbers for self_reported, checked_in "
                                   "and imported")
        elif key == "rating_factor_permille":
            if set(value) != {r.value for r in Rating} or not all(
                    isinstance(v, int) and 0 <= v <= POINTS_PER_RULE_MAX for v in value.values()):
                raise InvalidInput("rating factors are whole per-mille numbers for 优, 良 and 一般")
        elif key == "star_thresholds":
            if (len(value) != 5 or not all(isinstance(v, int) and v > 0 for v in value)
                    or sorted(set(value)) != list(value)):
                raise InvalidInput("five increasing star thresholds are required")
        elif not isinstance(value, int) or not 0 <= value <= POINTS_PER_RULE_MAX:
            raise InvalidInput(f"{key} must be a whole number of points")
    return rules


class ScoringPolicy(LedgerAggregate):
    @staticmethod
    def create_id(region_code: str, version: int) -> UUID:
        return stable_id("scoring-policy", region_code, version)

    @classmethod
    def publish(cls, *, region_code: str, version: int, rules: dict[str, Any], note: str) -> "ScoringPolicy":
        if not isinstance(version, int) or version < 1:
            raise InvalidInput("policy versions are whole numbers from 1")
        return cls(region_code=region_code, version=version, rules=check_rules(rules), note=note)

    @event("Published")
    def __init__(self, *, region_code: str, version: int, rules: dict[str, Any], note: str) -> None:
        self.region_code = region_code
        self.version = version
        self.rules = rules
        self.note = note


@dataclass
class SessionFacts:
    minutes: int
    rating: str
    item_key: str  # the post or menu item served
    excellent_order: bool  # a fulfilled resident order rated 优
    assurance: str = Assurance.SELF_REPORTED.value  # how the hours were recorded (values.Assurance)


@dataclass
class YearFacts:
    """What one member did in one year, session by session."""

    sessions: list[SessionFacts] = field(default_factory=list)
    adopted_suggestions: int = 0
    suggestions: int = 0
    reported: bool = False
    exempted: bool = False
    claimed_posts: int = 0


@dataclass(frozen=True)
class YearTotals:
    """A member's certified service in one year, summed: all the scoring rules need. The read models
    keep these counters per member-year; `totals_of` sums a year of sessions into them."""

    sessions: int = 0
    minutes_excellent: int = 0  # 优
    minutes_good: int = 0  # 良
    minutes_fair: int = 0  # 一般
    # of those, the minutes recorded otherwise than typed afterwards: (assurance, rating, minutes) for
    # checked_in and imported (ASSURED_CLASSES); self_reported minutes are the rest
    assured_minutes: tuple[tuple[str, str, int], ...] = ()
    items: int = 0  # distinct posts / menu items served
    excellent_orders: int = 0  # fulfilled resident orders rated 优
    suggestions: int = 0
    adopted_suggestions: int = 0
    reported: bool = False
    exempted: bool = False
    claimed_posts: int = 0


# The classes whose minutes YearTotals keeps apart (self_reported, the default, is the rest).
ASSURED_CLASSES: tuple[tuple[str, str], ...] = tuple(
    (assurance.value, rating.value) for assurance in Assurance if assurance is not Assurance.SELF_REPORTED
    for rating in Rating)


def totals_of(facts: YearFacts) -> YearTotals:
    minutes = {rating.value: 0 for rating in Rating}
    assured = dict.fromkeys(ASSURED_CLASSES, 0)
    for s in facts.sessions:
        minutes[s.rating] += s.minutes
        if (s.assurance, s.rating) in assured:
            assured[s.assurance, s.rating] += s.minutes
    return YearTotals(
        sessions=len(facts.sessions), minutes_excellent=minutes[Rating.EXCELLENT.value],
        minutes_good=minutes[Rating.GOOD.value], minutes_fair=minutes[Rating.FAIR.value],
        assured_minutes=tuple((a, r, m) for (a, r), m in assured.items() if m),
        items=len({s.item_key for s in facts.sessions}),
        excellent_orders=sum(1 for s in facts.sessions if s.excellent_order),
        suggestions=facts.suggestions, adopted_suggestions=facts.adopted_suggestions, reported=facts.reported,
        exempted=facts.exempted, claimed_posts=facts.claimed_posts)


# Points are exact rationals. Every valid policy has whole-number rules, so a year's points times
# POINTS_SCALE (60 minutes × 1000 ‰ for the rating × 1000 ‰ for the assurance) is a whole number: that
# integer is the one exact stored form (`Score.points_scaled`, the read models' `points_scaled`
# column); `Score.points` is the same value as a Fraction. Shown with one decimal, rounded half up
# (`points_text`), everywhere.
POINTS_SCALE = 60 * 1000 * 1000


@dataclass(frozen=True)
class Score:
    points: Fraction
    stars: int
    requirements_met: bool
    missing: tuple[str, ...]

    @property
    def points_scaled(self) -> int:
        scaled = self.points * POINTS_SCALE
        assert scaled.denominator == 1, self.points
        return int(scaled)

    @property
    def points_text(self) -> str:
        return points_text(self.points)


SESSIONS_PER_YEAR_MIN = 2  # 每年至少参加2次以上社区各类志愿服务活动
SUGGESTIONS_PER_YEAR_MIN = 1  # 每年提出1条以上建议
POSTS_MIN = 1  # 认领1个以上岗位


def missing_requirements(facts: YearFacts | YearTotals) -> tuple[str, ...]:
    """The basic yearly requirements a member misses, in Chinese as printed on the feedback.

    An exemption (有故) excuses what its reason covers: not reporting. A member excused who did not
    report is therefore excused the service that presupposes reporting (posts, sessions,
    suggestions); a member who did report is held to the service requirements like everyone else
    (对无故不去社区报到，或虽报到但未达基本服务要求的在职党员，取消当年各类评先评优资格)."""
    totals = facts if isinstance(facts, YearTotals) else totals_of(facts)
    if not totals.reported:
        if totals.exempted:
            return ()
        missing = ["未到社区报到"]
    else:
        missing = []
    if totals.claimed_posts < POSTS_MIN:
        missing.append("未认领岗位")
    if totals.sessions < SESSIONS_PER_YEAR_MIN:
        missing.append(f"服务活动少于{SESSIONS_PER_YEAR_MIN}次")
    if totals.suggestions < SUGGESTIONS_PER_YEAR_MIN:
        missing.append("未提出建议")
    return tuple(missing)


def score_totals(rules: dict[str, Any], totals: YearTotals) -> Score:
    """积分和星级: the policy's points for a year (exact), its stars, and the requirements missed.
    The rules are linear in each rating's minutes and count sessions, distinct items, excellent
    orders and adopted suggestions, so the year's totals are all they need. An hour counts its
    rating's factor times its assurance's factor (`assurance_factor_permille`; 1000 ‰ each where the
    policy does not weigh them). Computed in integers (points × POINTS_SCALE); stars compare the
    exact value with the thresholds."""
    factor = rules["rating_factor_permille"]
    weight = rules.get(ASSURANCE_FACTORS, EQUAL_ASSURANCE_FACTORS)
    self_reported = {Rating.EXCELLENT.value: totals.minutes_excellent, Rating.GOOD.value: totals.minutes_good,
                     Rating.FAIR.value: totals.minutes_fair}
    weighted = 0
    for assurance, rating, minutes in totals.assured_minutes:
        self_reported[rating] -= minutes
        weighted += minutes * factor[rating] * weight[assurance]
    weighted += sum(minutes * factor[rating] for rating, minutes in self_reported.items()) * \
        weight[Assurance.SELF_REPORTED.value]
    scaled = rules["points_per_certified_hour"] * weighted
    scaled += POINTS_SCALE * (
        rules["points_per_certified_session"] * totals.sessions + rules["points_per_distinct_item"] * totals.items
        + rules["points_per_excellent_order"] * totals.excellent_orders
        + rules["points_per_adopted_suggestion"] * totals.adopted_suggestions)
    missing = missing_requirements(totals)
    stars = star_count(Fraction(scaled, POINTS_SCALE), rules["star_thresholds"], missing)
    return Score(points=Fraction(scaled, POINTS_SCALE), stars=stars, requirements_met=not missing, missing=missing)


def star_count(points: Fraction, star_thresholds: Sequence[int], missing: Sequence[str]) -> int:
    """The star rule, in one place: no star for a year that missed a basic requirement, whatever the
    points; otherwise one star per threshold the exact points reach."""
    if missing:
        return 0
    return sum(1 for threshold in star_thresholds if points >= threshold)


@dataclass(frozen=True)
class NoStar:
    """Why a year earned no star (`star_count` read backwards): the basic requirements it missed
    (these alone withhold every star), or else the points still short of the first star."""

    missing: tuple[str, ...]
    first_star_points: int | None  # the ★ threshold the points did not reach; None when requirements decide
    points_short: Fraction | None


def why_no_star(points: Fraction, star_thresholds: Sequence[int], missing: Sequence[str]) -> NoStar | None:
    """None when the year earned a star; otherwise what is missing for one."""
    if star_count(points, star_thresholds, missing):
        return None
    if missing:
        return NoStar(missing=tuple(missing), first_star_points=None, points_short=None)
    first = min(star_thresholds)
    return NoStar(missing=(), first_star_points=first, points_short=first - points)


def score(rules: dict[str, Any], facts: YearFacts) -> Score:
    """The year's score from its sessions: `score_totals` of their sums."""
    return score_totals(rules, totals_of(facts))


# -- which policy scores a year ------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyAdoption:
    """Region.PolicyAdopted: from `from_year` on, `version` scores; made in `adopted_year`, as the
    `position`-th adoption (log order)."""

    position: int
    from_year: int
    version: int
    adopted_year: int


def policy_version_for_year(year: int, *, adoptions: Sequence[PolicyAdoption],
                            rescorings: Mapping[int, int]) -> int | None:
    """Which scoring policy version is in force for a year.

    In order: the latest explicit re-scoring of that year (Region.YearRescored; `rescorings` maps a
    year to that version); else the adoption with the greatest `from_year` ≤ year among those made
    while the year was still open (adopted in or before that year; the latest wins a tie); else —
    for a year that was closed before any policy covered it — the first adoption that covers it. So
    a policy adopted after a year has ended never changes that year's stars unless the region
    re-scores the year. None when no policy covers the year.
    """
    if year in rescorings:
        return rescorings[year]
    covering = [a for a in adoptions if a.from_year <= year]
    if not covering:
        return None
    while_open = [a for a in covering if a.adopted_year <= year]
    if while_open:
        return max(while_open, key=lambda a: (a.from_year, a.position)).version
    return min(covering, key=lambda a: a.position).version
