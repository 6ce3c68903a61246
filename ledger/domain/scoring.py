"""积分和星级评定: the scoring policy as a signed, versioned event, and the pure scoring function.

Points are exact fractions (10 points per hour is 1/6 point per minute); they are reported in
hundredths, rounded half up, and stars compare the exact value with the thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from ledger.domain.base import LedgerAggregate
from ledger.domain.errors import InvalidInput
from ledger.domain.values import Rating, stable_id

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
POINTS_PER_RULE_MAX = 10_000


def check_rules(rules: dict[str, Any]) -> dict[str, Any]:
    if set(rules) != RULE_KEYS:
        raise InvalidInput(f"a scoring policy has exactly the rules {sorted(RULE_KEYS)}")
    for key, value in rules.items():
        if key == "rating_factor_permille":
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


@dataclass
class YearFacts:
    """What one member did in one year, as the scoring function needs it."""

    sessions: list[SessionFacts] = field(default_factory=list)
    adopted_suggestions: int = 0
    suggestions: int = 0
    reported: bool = False
    exempted: bool = False
    claimed_posts: int = 0


@dataclass(frozen=True)
class Score:
    points: Fraction
    stars: int
    requirements_met: bool
    missing: tuple[str, ...]

    @property
    def points_hundredths(self) -> int:
        return int((self.points * 100 + Fraction(1, 2)) // 1)


SESSIONS_PER_YEAR_MIN = 2  # 每年至少参加2次以上社区各类志愿服务活动
SUGGESTIONS_PER_YEAR_MIN = 1  # 每年提出1条以上建议
POSTS_MIN = 1  # 认领1个以上岗位


def missing_requirements(facts: YearFacts) -> tuple[str, ...]:
    """The basic yearly requirements a member misses, in Chinese as printed on the feedback."""
    missing = []
    if not facts.reported and not facts.exempted:
        missing.append("未到社区报到")
    if facts.claimed_posts < POSTS_MIN:
        missing.append("未认领岗位")
    if len(facts.sessions) < SESSIONS_PER_YEAR_MIN:
        missing.append(f"服务活动少于{SESSIONS_PER_YEAR_MIN}次")
    if facts.suggestions < SUGGESTIONS_PER_YEAR_MIN:
        missing.append("未提出建议")
    if facts.exempted:  # an exempted member ("有故") is excused from the requirements
        return ()
    return tuple(missing)


def score(rules: dict[str, Any], facts: YearFacts) -> Score:
    factor = rules["rating_factor_permille"]
    points = Fraction(0)
    for s in facts.sessions:
        points += Fraction(s.minutes * rules["points_per_certified_hour"] * factor[s.rating], 60 * 1000)
    points += rules["points_per_certified_session"] * len(facts.sessions)
    points += rules["points_per_distinct_item"] * len({s.item_key for s in facts.sessions})
    points += rules["points_per_excellent_order"] * sum(1 for s in facts.sessions if s.excellent_order)
    points += rules["points_per_adopted_suggestion"] * facts.adopted_suggestions
    missing = missing_requirements(facts)
    stars = 0 if missing else sum(1 for t in rules["star_thresholds"] if points >= t)
    return Score(points=points, stars=stars, requirements_met=not missing, missing=missing)
