"""Golden tests: the report numbers of the hand-built year in `golden.py`, worked out by hand here.

Policy v1: 10 points per certified hour × 优 1.2 / 良 1.0 / 一般 0.8; +5 per session; +10 per distinct post
or menu item; +5 per fulfilled order rated 优; +10 per adopted suggestion; stars at 50/100/200/400/800.
"""

from __future__ import annotations

from datetime import date

from ledger.demo import at, simulated
from ledger.domain.scoring import POLICY_V1_RULES
from projections import queries as q
from projections import reports
from projections.projector import Views
from projections.render.model import Table
from tests.projections.golden import MOBILE_A, YEAR, Golden

# 张甲: 120 min 优 + 60 min 良 + 90 min 优 = 10 × (2 × 1.2 + 1 × 1.0 + 1.5 × 1.2) = 52 points,
# + 3 sessions × 5 = 15, + 3 items (two posts, one menu item) × 10 = 30, + 1 excellent order × 5,
# + 1 adopted suggestion × 10  →  112 points: ★★ (100 ≤ 112 < 200).
A_POINTS = 52_00 + 15_00 + 30_00 + 5_00 + 10_00
# 李乙: 960 min 优 = 10 × 16 × 1.2 = 192, + 5, + 10 (one item) → 207, but one session and no
# suggestion: no star whatever the points.
B_POINTS = 192_00 + 5_00 + 10_00
# 钱戊: 90 (corrected from 120) + 45 min 良 = 22.5; the complaint zeroed one, one was rejected;
# + 2 × 5 + 1 item × 10 → 42.5: below ★.
E_POINTS = 22_50 + 10_00 + 10_00


def by_name(views: Views) -> dict[str, q.MemberYear]:
    return {my.member.name: my for my in q.member_years(views, year=YEAR)}


def rows(table: Table, key: str = "name") -> dict[str, dict[str, object]]:
    return {str(row[key]): dict(row) for row in table.rows}


def test_points_and_stars_follow_policy_v1(shared: tuple[Golden, Views]) -> None:
    _, golden_views = shared
    years = by_name(golden_views)
    assert {name: (my.points * 100, my.stars) for name, my in years.items()} == {
        "张甲": (A_POINTS, 2), "李乙": (B_POINTS, 0), "王丙": (0, 0), "赵丁": (0, 0), "钱戊": (E_POINTS, 0)}
    assert {my.policy_version for my in years.values()} == {1}
    a = years["张甲"]
    assert (a.sessions, a.certified_minutes, a.items, a.sessions_excellent, a.sessions_good) == (3, 270, 3, 2, 1)
    e = years["钱戊"]
    assert (e.sessions, e.certified_minutes, e.suggestions, e.forwarded_suggestions) == (2, 135, 2, 1)


def test_compliance_and_eligibility_reasons(shared: tuple[Golden, Views]) -> None:
    _, golden_views = shared
    years = by_name(golden_views)
    assert {name: (my.eligible, my.reason) for name, my in years.items()} == {
        "张甲": (True, "达到基本服务要求"),
        "李乙": (False, "服务活动少于2次；未提出建议"),
        "王丙": (False, "未到社区报到；未认领岗位；服务活动少于2次；未提出建议"),
        "赵丁": (True, "有故：长期病休"),
        "钱戊": (True, "达到基本服务要求"),
    }
    b = years["李乙"]
    assert b.reported and b.member.report_late and b.member.reported_on == date(YEAR, 9, 15)
    assert years["张甲"].member.posts == ("政策法规宣传岗",)

    table = reports.eligibility(golden_views, year=YEAR).tables()[0]
    assert [row["eligibility"] for row in table.rows] == ["取消", "取消", "保留", "保留", "保留"]
    assert rows(table)["李乙"]["reported"] == "逾期 2026-09-15"
    assert rows(table)["赵丁"]["reported"] == "有故未报到"


def test_balances_per_member_community_and_region(shared: tuple[Golden, Views]) -> None:
    golden, golden_views = shared
    balances = {b.name: b for b in q.balances(golden_views)}
    assert {name: (b.deposited_minutes, b.clawed_back_minutes, b.redeemed_minutes, b.available_minutes)
            for name, b in balances.items()} == {
        "张甲": (270, 0, 90, 180), "李乙": (960, 0, 0, 960), "钱戊": (225, 90, 0, 135)}
    for b in balances.values():  # the read model agrees with the aggregates
        assert golden.ledger.get_balance_minutes(__import__("uuid").UUID(b.member_id)) == b.available_minutes
    by_community, region = q.balance_totals(golden_views)
    assert {row.label: row.sums["available_minutes"] for row in by_community} == {"紫鑫城社区": 1140, "玄武门社区": 135}
    assert (region.accounts, region.sums["deposited_minutes"], region.sums["available_minutes"]) == (3, 1455, 1275)

    table = reports.balances(golden_views).tables()[0]
    assert table.columns[0].key == "member_id"
    a = rows(table)["张甲"]
    assert (a["member_id"], a["deposited_minutes"], a["redeemed_minutes"], a["available_minutes"]) == (
        str(golden.members["A"]), 270, 90, 180)


def test_unit_statistics_attachment_3(shared: tuple[Golden, Views]) -> None:
    _, golden_views = shared
    table = reports.unit_stats(golden_views, year=YEAR).tables()[0]
    assert [list(row.values()) for row in table.rows] == [
        ["测试单位党委", 5, 2, 1, 3, "无故未报到1人；未录入系统1人；长期病休1人"],
        ["第二单位党委", 2, 1, 1, 1, "未录入系统1人"],
    ]
    assert table.totals_row == {"unit": "合计", "declared": 7, "reported": 3, "communities": 2, "not_reported": 4,
                                "reasons": ""}


def test_record_card_attachment_5(shared: tuple[Golden, Views]) -> None:
    golden, golden_views = shared
    report = reports.card(golden_views, year=YEAR, member_id=str(golden.members["A"]))
    table = report.tables()[0]
    assert [(row["date"], row["minutes"], row["cumulative_minutes"], row["rating"], row["certified_by"])
            for row in table.rows] == [
        (date(YEAR, 4, 1), 120, 120, "优", "评价：社区党委\n认证：紫鑫城社区党组织\n2026年4月1日"),
        (date(YEAR, 5, 1), 60, 180, "良", "评价：社区党委\n认证：紫鑫城社区党组织\n2026年5月1日"),
        (date(YEAR, 6, 1), 90, 270, "优", "评价：社区党委\n认证：紫鑫城社区党组织\n2026年6月1日"),
    ]
    assert table.totals_row is not None and table.totals_row["cumulative_minutes"] == 270
    assert dict(report.meta) == {"在职党员姓名": "张甲", "工作单位": "测试单位党委", "报到社区": "紫鑫城社区"}
    # the member's mobile only when the caller may see personal data
    shown = reports.card(golden_views, year=YEAR, member_id=str(golden.members["A"]),
                         personal_data=golden.ledger.member_personal_data)
    assert dict(shown.meta)["本人联系电话"] == MOBILE_A
    # corrections and complaints: 钱戊's card counts 90 + 45 minutes, not the zeroed or rejected ones
    e_card = reports.card(golden_views, year=YEAR, member_id=str(golden.members["E"])).tables()[0]
    assert [row["cumulative_minutes"] for row in e_card.rows] == [90, 135]


def test_register_attachment_4_hides_personal_fields_unless_allowed(shared: tuple[Golden, Views]) -> None:
    golden, golden_views = shared
    community = str(golden.community1.actor_id)
    hidden = rows(reports.register(golden_views, year=YEAR, community_id=community).tables()[0])
    assert list(hidden) == ["张甲", "李乙"]  # in the order they reported
    assert hidden["张甲"]["mobile"] == "（保密）" and hidden["张甲"]["address"] == "（保密）"
    assert (hidden["张甲"]["project"], hidden["张甲"]["unit_type"], hidden["张甲"]["other_service"]) == (
        "政策法规宣传岗", "机关", "是")
    assert hidden["李乙"]["mobile"] == ""  # registered without personal data
    shown = rows(reports.register(golden_views, year=YEAR, community_id=community,
                                  personal_data=golden.ledger.member_personal_data).tables()[0])
    assert (shown["张甲"]["mobile"], shown["张甲"]["birth_month"], shown["张甲"]["address"]) == (
        MOBILE_A, "1980-05", "玄武区龙蟠路1号")


def test_year_end_feedback_needs_the_members_consent(shared: tuple[Golden, Views]) -> None:
    golden, golden_views = shared
    table = reports.feedback(golden_views, year=YEAR, unit_id=str(golden.unit1.actor_id)).tables()[0]
    a, b = rows(table)["张甲"], rows(table)["李乙"]
    assert (a["sessions"], a["minutes"], a["ratings"], a["points"], a["stars"], a["eligibility"]) == (
        3, 270, "2/1/0", "112.0", "★★", "保留")
    assert b["reason"] == reports.NO_CONSENT and "points" not in b


def test_overview_hours_by_month_and_stars(shared: tuple[Golden, Views]) -> None:
    _, golden_views = shared
    assert q.minutes_by_month(golden_views, year=YEAR) == [0, 0, 0, 120, 150, 90, 0, 45, 0, 960, 0, 0]
    assert q.star_distribution(q.member_years(golden_views, year=YEAR)) == [4, 0, 1, 0, 0, 0]
    posts = {label: (sessions, minutes) for label, sessions, minutes in q.minutes_by_post(golden_views, year=YEAR)}
    assert posts == {"困难群众帮扶岗": (2, 1020), "政策法规宣传岗": (1, 120), "陪同就医": (1, 90),
                     "社区稳定维护岗": (2, 135)}
    report = reports.overview(golden_views, year=YEAR)
    assert [s.heading for s in report.sections][1:] == ["各单位报到与参与情况", "各社区参与情况", "服务时长按月分布",
                                                         "服务时长按岗位分布", "服务时长按记录方式分布", "星级分布"]


def test_a_later_policy_keeps_a_closed_year_until_it_is_rescored(golden: Golden, golden_views: Views) -> None:
    ledger = golden.ledger
    rules = {**POLICY_V1_RULES, "points_per_certified_hour": 20, "star_thresholds": [10, 20, 30, 40, 50]}
    with simulated(at(date(YEAR + 1, 1, 5), 9)):  # 2026 has closed
        ledger.publish_scoring_policy(actor=golden.region, version=2, rules=rules, note="v2", from_year=YEAR)
    golden_views.catch_up()
    a = by_name(golden_views)["张甲"]
    assert (a.points * 100, a.stars, a.policy_version) == (A_POINTS, 2, 1)

    with simulated(at(date(YEAR + 1, 1, 6), 9)):
        ledger.rescore_year(actor=golden.region, year=YEAR, version=2)
    golden_views.catch_up()
    years = by_name(golden_views)
    # 20 × 5.2 = 104, + 15 + 30 + 5 + 10 = 164: every threshold of v2 → ★★★★★
    assert (years["张甲"].points * 100, years["张甲"].stars, years["张甲"].policy_version) == (164_00, 5, 2)
    assert (years["李乙"].points * 100, years["李乙"].stars) == (384_00 + 15_00, 0)  # still misses
