"""Why a member with points has no star (issue #12): the one star rule, read backwards."""

from __future__ import annotations

from fractions import Fraction

from ledger.domain.scoring import POLICY_V1_RULES, YearTotals, score_totals, star_count, why_no_star

THRESHOLDS = POLICY_V1_RULES["star_thresholds"]


def test_missed_requirements_withhold_the_star_whatever_the_points() -> None:
    totals = YearTotals(sessions=1, minutes_excellent=6000, reported=True, claimed_posts=1, suggestions=1)
    scored = score_totals(POLICY_V1_RULES, totals)
    assert scored.points >= THRESHOLDS[0] and scored.stars == 0
    reason = why_no_star(scored.points, THRESHOLDS, scored.missing)
    assert reason is not None and reason.missing == ("服务活动少于2次",) and reason.first_star_points is None


def test_requirements_met_but_points_short_of_the_first_star() -> None:
    totals = YearTotals(sessions=2, minutes_good=60, reported=True, claimed_posts=1, suggestions=1, items=1)
    scored = score_totals(POLICY_V1_RULES, totals)
    assert scored.stars == 0 and not scored.missing
    reason = why_no_star(scored.points, THRESHOLDS, scored.missing)
    assert reason is not None and reason.missing == ()
    assert reason.first_star_points == THRESHOLDS[0]
    assert reason.points_short == THRESHOLDS[0] - scored.points > 0


def test_a_starred_year_has_no_reason_and_the_rule_agrees_with_the_score() -> None:
    totals = YearTotals(sessions=3, minutes_excellent=600, reported=True, claimed_posts=1, suggestions=1, items=2)
    scored = score_totals(POLICY_V1_RULES, totals)
    assert scored.stars == star_count(scored.points, THRESHOLDS, scored.missing) > 0
    assert why_no_star(scored.points, THRESHOLDS, scored.missing) is None
    assert star_count(Fraction(THRESHOLDS[0]), THRESHOLDS, ()) == 1  # reaching a threshold counts
