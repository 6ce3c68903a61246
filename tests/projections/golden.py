"""A small hand-built year (2026) whose report numbers the tests work out by hand.

Unit 测试单位党委 (机关, declares 5 members) has four members in the ledger:
- 张甲 reports to 紫鑫城社区 on 03-10 with 政策法规宣传岗; three certified sessions: 120 min 优 (政策法规宣传岗),
  60 min 良 (困难群众帮扶岗), and 90 min 优 for a resident's order of 陪同就医 (fulfilled); one suggestion,
  adopted; redeems 大米 5kg (90 min). Consents to the year-end feedback to the unit.
- 李乙 reports late (09-15, the deadline is 08-31) with 困难群众帮扶岗; one certified session of 960 min 优;
  no suggestion.
- 王丙 gets a report slip and never reports.
- 赵丁 is excused for 2026 by the unit (长期病休) and never reports.
Unit 第二单位党委 (企业, declares 2) has one member:
- 钱戊 reports to 玄武门社区 on 04-01 with 社区稳定维护岗: 120 min 良 certified then corrected to 90; 60 min 优
  certified then zeroed by an upheld complaint; 30 min 良 rejected; 45 min 良 certified; two suggestions,
  one forwarded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from uuid import UUID, uuid4

from ledger.application import Actor, Ledger, setup
from ledger.demo import at, simulated
from ledger.domain.values import ConsentPurpose, Role

YEAR = 2026
MOBILE_A = "13900000001"


@dataclass
class Golden:
    ledger: Ledger
    region: Actor
    unit1: Actor
    unit2: Actor
    community1: Actor
    community2: Actor
    counter: Actor
    resident: Actor
    members: dict[str, UUID] = field(default_factory=dict)
    sessions: dict[str, UUID] = field(default_factory=dict)
    rice: UUID | None = None


def member_actor(member_id: UUID) -> Actor:
    return Actor(member_id, Role.MEMBER)


def build(ledger: Ledger) -> Golden:
    with simulated(at(date(YEAR, 1, 2), 9)):
        setup.init_region(ledger)
    region = ledger.region_actor()
    with simulated(at(date(YEAR, 1, 5), 9)):
        ledger.set_report_deadline(actor=region, year=YEAR, deadline=date(YEAR, 8, 31))
        unit1 = setup.register_unit(ledger, region, name="测试单位党委", unit_type="机关", declared_members=5)
        unit2 = setup.register_unit(ledger, region, name="第二单位党委", unit_type="企业", declared_members=2)
        c1 = setup.register_community(ledger, region, name="紫鑫城社区", street="锁金村街道")
        c2 = setup.register_community(ledger, region, name="玄武门社区", street="玄武门街道")
    with simulated(at(date(YEAR, 2, 3), 9)):
        menu = ledger.publish_menu_item(actor=c1, title="陪同就医")
        rice = ledger.list_catalogue_item(actor=c1, name="大米 5kg", price_minutes=90)
        counter = Actor(ledger.open_counter(actor=c1, name="爱心超市"), Role.COUNTER)
        resident = Actor(ledger.register_resident(actor=c1, label="居民1"), Role.RESIDENT)
    g = Golden(ledger, region, unit1, unit2, c1, c2, counter, resident, rice=rice)
    post = {name: ledger.get_community(c1.actor_id).post_id(name) for name in ("政策法规宣传岗", "困难群众帮扶岗")}
    stability = ledger.get_community(c2.actor_id).post_id("社区稳定维护岗")

    with simulated(at(date(YEAR, 3, 2), 9)):
        for key, name, unit in (("A", "张甲", unit1), ("B", "李乙", unit1), ("C", "王丙", unit1),
                                ("D", "赵丁", unit1), ("E", "钱戊", unit2)):
            g.members[key] = ledger.enrol_member(actor=unit, name=name, party_status="正式", job_title="科员")
        slips = {key: ledger.issue_report_slip(actor=unit1 if key != "E" else unit2, member_id=g.members[key],
                                               community_id=(c1 if key != "E" else c2).actor_id)
                 for key in "ABCE"}
    with simulated(at(date(YEAR, 3, 5), 9)):
        ledger.grant_exemption(actor=unit1, member_id=g.members["D"], year=YEAR, reason="长期病休")

    a, b, e = g.members["A"], g.members["B"], g.members["E"]
    with simulated(at(date(YEAR, 3, 10), 10)):
        ledger.register_member(actor=c1, member_id=a, post_ids=[post["政策法规宣传岗"]], slip_id=slips["A"],
                               profile={"sex": "男", "education": "本科", "party_joined": "2001-07",
                                        "specialities": "法律咨询", "hobbies": "摄影"},
                               personal={"mobile": MOBILE_A, "home_address": "玄武区龙蟠路1号",
                                         "birth_month": "1980-05", "unit_phone": "025-80000001"},
                               willing_other_service=True)
        ledger.give_consent(actor=member_actor(a), member_id=a, purpose=ConsentPurpose.UNIT_FEEDBACK,
                            recipient=str(unit1.actor_id))
    with simulated(at(date(YEAR, 4, 1), 10)):
        ledger.register_member(actor=c2, member_id=e, post_ids=[stability], slip_id=slips["E"])
        ledger.give_consent(actor=member_actor(e), member_id=e, purpose=ConsentPurpose.UNIT_FEEDBACK,
                            recipient=str(unit2.actor_id))

    def session(key: str, member: UUID, community: Actor, day: date, start: str, end: str, minutes: int,
                rating: str, post_id: UUID | None, *, order_id: UUID | None = None, rater: Actor | None = None,
                certify: bool = True) -> UUID:
        with simulated(at(day, 20)):
            session_id = setup.serve_session(
                ledger, community=community, recorded_by=member_actor(member), rated_by=rater, member_id=member,
                activity="志愿服务", content=f"服务{key}", place="社区党群服务中心", service_date=day, start_time=start,
                end_time=end, minutes=minutes, post_id=post_id, order_id=order_id, organiser="社区党委",
                rating=rating, certify=certify)
        g.sessions[key] = session_id
        return session_id

    session("A1", a, c1, date(YEAR, 4, 1), "09:00", "11:00", 120, "优", post["政策法规宣传岗"])
    session("A2", a, c1, date(YEAR, 5, 1), "09:00", "10:00", 60, "良", post["困难群众帮扶岗"])
    with simulated(at(date(YEAR, 5, 30), 9)):
        order = ledger.place_order(actor=resident, community_id=c1.actor_id, menu_item_id=menu, note="")
        ledger.dispatch_order(actor=c1, order_id=order, member_id=a)
        ledger.accept_order(actor=member_actor(a), order_id=order)
    session("A3", a, c1, date(YEAR, 6, 1), "14:00", "15:30", 90, "优", None, order_id=order, rater=resident)
    with simulated(at(date(YEAR, 6, 5), 20)):
        suggestion = ledger.submit_suggestion(actor=member_actor(a), content="建议增设社区食堂")
    with simulated(at(date(YEAR, 6, 20), 10)):
        ledger.adopt_suggestion(actor=c1, suggestion_id=suggestion, note="已纳入计划")
    with simulated(at(date(YEAR, 7, 1), 15)):
        ledger.redeem(actor=counter, member_id=a, redemption_id=uuid4(), items=[(rice, 1)])

    with simulated(at(date(YEAR, 9, 15), 10)):
        ledger.register_member(actor=c1, member_id=b, post_ids=[post["困难群众帮扶岗"]], slip_id=slips["B"])
    session("B1", b, c1, date(YEAR, 10, 1), "07:00", "23:00", 960, "优", post["困难群众帮扶岗"])

    session("E1", e, c2, date(YEAR, 5, 10), "09:00", "11:00", 120, "良", stability)
    with simulated(at(date(YEAR, 5, 20), 10)):
        ledger.correct_session(actor=c2, session_id=g.sessions["E1"], changes={"minutes": 90}, reason="实际90分钟")
    session("E2", e, c2, date(YEAR, 6, 10), "09:00", "10:00", 60, "优", stability)
    with simulated(at(date(YEAR, 6, 20), 10)):
        ledger.uphold_complaint(actor=c2, session_id=g.sessions["E2"], reason="投诉属实")
    session("E3", e, c2, date(YEAR, 7, 10), "09:00", "09:30", 30, "良", stability, certify=False)
    with simulated(at(date(YEAR, 7, 11), 10)):
        ledger.reject_session(actor=c2, session_id=g.sessions["E3"], reason="无法核实")
    session("E4", e, c2, date(YEAR, 8, 10), "09:00", "09:45", 45, "良", stability)
    with simulated(at(date(YEAR, 8, 12), 20)):
        first = ledger.submit_suggestion(actor=member_actor(e), content="建议改善夜间照明")
        ledger.submit_suggestion(actor=member_actor(e), content="建议增加充电桩")
    with simulated(at(date(YEAR, 8, 20), 10)):
        ledger.forward_suggestion(actor=c2, suggestion_id=first, agency="区城管局")
    return g
