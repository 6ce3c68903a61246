"""An exemption (有故) excuses what its reason covers: by default, not reporting. A member who did
report is held to the service requirements like everyone else (the notice: 虽报到但未达基本服务要求)."""

from __future__ import annotations

from ledger.domain.scoring import POLICY_V1_RULES, SessionFacts, YearFacts, score


def test_an_exempted_member_who_reported_is_still_held_to_the_service_requirements() -> None:
    facts = YearFacts(sessions=[SessionFacts(600, "优", "post-a", False)], suggestions=0, reported=True,
                      exempted=True, claimed_posts=1)
    result = score(POLICY_V1_RULES, facts)
    assert result.missing == ("服务活动少于2次", "未提出建议")
    assert result.stars == 0 and not result.requirements_met


def test_an_exempted_member_who_reported_and_claimed_no_post_misses_the_post_too() -> None:
    facts = YearFacts(sessions=[SessionFacts(60, "良", "a", False)] * 2, suggestions=1, reported=True,
                      exempted=True, claimed_posts=0)
    assert score(POLICY_V1_RULES, facts).missing == ("未认领岗位",)


def test_an_exemption_excuses_a_member_who_did_not_report() -> None:
    result = score(POLICY_V1_RULES, YearFacts(exempted=True))
    assert result.missing == () and result.requirements_met


def test_a_member_who_did_not_report_without_a_reason_misses_everything() -> None:
    assert score(POLICY_V1_RULES, YearFacts()).missing == ("未到社区报到", "未认领岗位", "服务活动少于2次",
                                                          "未提出建议")
