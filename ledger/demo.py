"""A realistic region year for demos and tests: units, communities, ≥200 members with Chinese names,
and every event kind of the flow — late records, corrections, complaints, rejections, exemptions,
a member who never reported, orders, suggestions, consents, redemptions and a key rotation.

Deterministic for a seed: the same seed gives the same members, sessions and minutes. Event times
follow a simulated calendar through the year (the ledger's clock is set per step).
"""

from __future__ import annotations

import random
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Callable, Iterator
from uuid import UUID

from ledger.application import Actor, Ledger, setup
from ledger.domain.base import CLOCK
from ledger.domain.calendar import shipped_calendar
from ledger.domain.errors import LedgerError, WrongState
from ledger.domain.time_account import TimeAccount
from ledger.domain.values import CHINA_TIME, ConsentPurpose, Role, stable_id
from ledger.signing.keys import private_bytes

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = ("伟 芳 娜 秀英 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀兰 霞 平 刚 桂英 建华 文 华 红 玉兰 晓东 海燕 志强 "
         "建国 丽娟 春梅 国庆 雪梅 晨 宇 欣怡 子涵 浩然 思远 雨桐 佳琪 俊杰 一鸣 晓燕 立新 卫东 顺仙 玉珍 德明 永红").split()

UNITS = [
    ("江苏省财政厅机关党委", "机关", 78),
    ("南京市玄武区人民医院党委", "事业", 66),
    ("南京紫金城建集团有限公司党委", "企业", 58),
    ("南京玄武职业技术学院党委", "大专院校", 48),
]
COMMUNITIES = [
    ("紫鑫城社区", "锁金村街道"),
    ("玄武门社区", "玄武门街道"),
    ("梅园新村社区", "梅园新村街道"),
    ("丹凤街社区", "新街口街道"),
    ("孝陵卫社区", "孝陵卫街道"),
]
CUSTOM_POSTS = ["垃圾分类督导岗", "老年助餐服务岗", "文明养犬劝导岗", "防汛值守岗"]
TEAMS = [("第一网格服务队", "地缘"), ("医疗健康志愿队", "业缘"), ("书法文艺志愿队", "趣缘")]
MENU = ["陪同就医", "上门理发", "家电维修", "政策咨询", "作业辅导", "代购代办"]
CATALOGUE = [("大米 5kg", 90), ("食用油 1.8L", 60), ("洗衣液 2kg", 45), ("理发服务券", 30), ("毛巾两条", 20)]
ACTIVITIES = [
    ("敬老助残", "为空巢老人打扫卫生、陪伴聊天", "困难群众帮扶岗"),
    ("政策宣讲", "宣讲医保新政策并解答居民咨询", "政策法规宣传岗"),
    ("环境整治", "清理楼道堆物、清扫绿化带", "环境保护卫士岗"),
    ("文明创建", "文明交通劝导", "文明创建示范岗"),
    ("四点半课堂", "辅导社区小学生完成作业", "青少年教育服务岗"),
    ("平安巡逻", "夜间平安巡逻", "社区稳定维护岗"),
    ("议事协商", "参加社区议事会，讨论加装电梯方案", "社区工作参议岗"),
    ("公益募捐", "组织爱心义卖和募捐", "公益事业推动岗"),
]
PLACES = ["社区党群服务中心", "社区活动室", "小区中心广场", "居民家中", "社区卫生服务站", "小区东门"]
EXEMPTION_REASONS = ["援疆挂职一年", "长期病休", "出国访学", "产假"]
AGENCIES = ["区城管局", "区住建局", "街道办事处", "区民政局"]
SUGGESTIONS = ["建议在小区增设电动车充电桩", "建议老旧小区加装电梯", "建议增设社区食堂", "建议改善小区夜间照明",
               "建议增加垃圾分类投放点", "建议开设老年人智能手机培训班"]


@dataclass
class DemoSummary:
    region_code: str
    units: int = 0
    communities: int = 0
    members: int = 0
    registered: int = 0
    never_reported: int = 0
    sessions: int = 0
    certified: int = 0
    redemptions: int = 0
    events: int = 0
    root_private_key: bytes | None = None  # set when the demo initialised the region itself
    member_ids: list[UUID] = field(default_factory=list)


class DemoPredatesRegion(WrongState):
    """The demo year would be signed before the region's keys existed, so `verify` would fail."""

    code = "demo_predates_region"


def demo_start(year: int) -> datetime:
    """The demo's first moment (the region is initialised then when the demo initialises it)."""
    return at(date(year, 1, 2), 9)


def check_demo_fits(ledger: Ledger, year: int) -> None:
    """Refuse, before writing anything, a demo year that would be signed before the region's keys
    were registered: every event must verify, and a key verifies only what it signed after it was
    registered. An empty database always fits (the demo initialises the region at its own start)."""
    if ledger.region_code is None:
        return
    initialised = ledger.get_region().created_on
    if initialised > demo_start(year):
        raise DemoPredatesRegion(
            f"地区 {ledger.region_code} 已于 {initialised.isoformat()} 初始化，{year} 年演示数据会早于地区密钥，"
            f"无法通过验证；请在空数据库上运行 `timeledger demo`（它自行初始化地区） / region "
            f"{ledger.region_code} was initialised at {initialised.isoformat()}: a {year} demo year would be "
            "signed before its keys existed and fail verification; run `timeledger demo` on an empty database "
            "(it initialises the region itself)")


@contextmanager
def simulated(moment: datetime) -> Iterator[None]:
    token = CLOCK.set(lambda: moment)
    try:
        yield
    finally:
        CLOCK.reset(token)


def _last_entry_time(ledger: Ledger, member_id: UUID) -> datetime:
    account: TimeAccount = ledger.repository.get(TimeAccount.create_id(member_id))
    return account.modified_on


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CHINA_TIME)


def _name(rng: random.Random, used: set[str]) -> str:
    while True:
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        if name not in used or len(used) > 3000:
            used.add(name)
            return name


def _personal(rng: random.Random) -> dict[str, str]:
    return {
        "ethnicity": rng.choice(["汉族"] * 9 + ["回族", "满族"]),
        "health": rng.choice(["健康", "良好", "一般"]),
        "birth_month": f"{rng.randint(1966, 1998)}-{rng.randint(1, 12):02d}",
        "home_address": f"南京市玄武区{rng.choice(['龙蟠路', '中山路', '北京东路', '玄武大道', '锁金路'])}{rng.randint(1, 300)}号",
        "unit_address": f"南京市玄武区{rng.choice(['北京西路', '长江路', '珠江路'])}{rng.randint(1, 99)}号",
        "unit_phone": f"025-8{rng.randint(1000000, 9999999)}",
        "mobile": f"1{rng.choice('35789')}{rng.randint(100000000, 999999999)}",
    }


def _profile(rng: random.Random) -> dict[str, str]:
    return {
        "sex": rng.choice(["男", "女"]),
        "education": rng.choice(["本科", "硕士研究生", "大专", "博士研究生"]),
        "party_joined": f"{rng.randint(1990, 2024)}-{rng.randint(1, 12):02d}",
        "specialities": rng.choice(["法律咨询", "医疗护理", "电脑维修", "书法", "财务会计", "心理辅导"]),
        "hobbies": rng.choice(["摄影", "太极拳", "唱歌", "读书", "乒乓球", "园艺"]),
        "available_time": rng.choice(["周末", "工作日晚上", "节假日", "周六上午"]),
    }


@dataclass
class FurnishedCommunity:
    """A community after its February set-up: its posts by name, teams, menu, catalogue (item, price),
    counter and residents."""

    actor: Actor
    posts: dict[str, UUID]
    teams: list[UUID]
    menu: list[UUID]
    catalogue: list[tuple[UUID, int]]
    counter: Actor
    residents: list[Actor]


def furnish_community(ledger: Ledger, community: Actor, rng: random.Random, *, moment: datetime,
                      residents: int = 6, batch: bool = False) -> FurnishedCommunity:
    """February at `moment` (in one batch if asked): two custom posts, the teams, four menu items, the
    catalogue, a counter and `residents` residents — the demo's and the generated regions' set-up."""
    with simulated(moment), (ledger.batch() if batch else nullcontext()):
        for post in rng.sample(CUSTOM_POSTS, 2):
            ledger.define_post(actor=community, name=post)
        teams = [ledger.form_team(actor=community, name=n, kind=k) for n, k in TEAMS]
        menu = [ledger.publish_menu_item(actor=community, title=t) for t in rng.sample(MENU, 4)]
        catalogue = [(ledger.list_catalogue_item(actor=community, name=n, price_minutes=p), p) for n, p in CATALOGUE]
        counter = Actor(ledger.open_counter(actor=community, name="爱心超市收银台"), Role.COUNTER)
        people = [Actor(ledger.register_resident(actor=community, label=f"居民{i + 1}"), Role.RESIDENT)
                  for i in range(residents)]
    posts = {name: post_id for post_id, name in ledger.get_community(community.actor_id).posts.items()}
    return FurnishedCommunity(community, posts, teams, menu, catalogue, counter, people)


def enrol_demo_member(ledger: Ledger, rng: random.Random, *, unit: Actor, community: Actor, name: str,
                      member_id: UUID) -> tuple[UUID, UUID]:
    """A unit enrols a demo member (a status and a job title drawn from `rng`) with a report slip."""
    return setup.enrol_with_slip(ledger, unit=unit, community=community, name=name, member_id=member_id,
                                 party_status="预备" if rng.random() < 0.08 else "正式",
                                 job_title=rng.choice(["科员", "副科长", "主治医师", "工程师", "讲师", "会计"]))


def make_suggestions(ledger: Ledger, rng: random.Random, *, member: Actor, community: Actor, day: date,
                     until: date, adopted_note: str, outcomes: set[str] | None = None) -> None:
    """None to two suggestions by the member on `day`; two weeks later (by `until`) the community
    adopts about a third, forwards a quarter to an agency and leaves the rest open. `outcomes` (the
    region's so far) makes sure the first two decided show both: adopted, then forwarded."""
    seen = outcomes if outcomes is not None else set()
    for _ in range(rng.choice([0, 1, 1, 1, 2])):
        with simulated(at(day, 20)):
            suggestion_id = ledger.submit_suggestion(actor=member, content=rng.choice(SUGGESTIONS))
        with simulated(at(min(day + timedelta(days=14), until), 10)):
            outcome = rng.random()
            if "adopted" not in seen:
                outcome = 0.0
            elif "forwarded" not in seen:
                outcome = 0.5
            if outcome < 0.35:
                ledger.adopt_suggestion(actor=community, suggestion_id=suggestion_id, note=adopted_note)
                seen.add("adopted")
            elif outcome < 0.6:
                ledger.forward_suggestion(actor=community, suggestion_id=suggestion_id, agency=rng.choice(AGENCIES))
                seen.add("forwarded")


def _workday_after(day: date, working_days: int) -> date:
    """The ledger's own rule (the shipped State Council calendars), so the demo's on-time and late
    records are what the late flag says."""
    return shipped_calendar().add_working_days(day, working_days)


DEMO_SEASON_OVER = (10, 1)  # registration runs to 30 September: a demo year needs that behind it


def default_year(today: date) -> int:
    """The demo's year when none is given: this year from 1 October on (China time), the year before
    until then, so that every registration, report and most of the service lie in the past. Pin it
    (`--year`) wherever the result must not depend on the calendar, as the tests do."""
    return today.year if (today.month, today.day) >= DEMO_SEASON_OVER else today.year - 1


def check_year(year: int, today: date) -> None:
    """A demo year whose registration season is not over yet would write events dated in the future."""
    if date(year, *DEMO_SEASON_OVER) > today:
        raise ValueError(f"演示年份 {year} 的报到期尚未结束（今天是 {today.isoformat()}）：请选 {default_year(today)} 或更早 / "
                         f"the demo year {year} is not over enough (today is {today.isoformat()}): "
                         f"choose {default_year(today)} or earlier")


def generate(ledger: Ledger, *, members: int = 240, year: int = 2026, seed: int = 2014,
             progress: Callable[[int], None] | None = None) -> DemoSummary:
    """Write a demo region year into an initialised (or empty) ledger."""
    check_demo_fits(ledger, year)
    rng = random.Random(seed)
    root_private_key = None
    if ledger.region_code is None:
        with simulated(demo_start(year)):
            root_private_key = private_bytes(setup.init_region(ledger))
    assert ledger.region_code is not None
    summary = DemoSummary(region_code=ledger.region_code, root_private_key=root_private_key)
    region = ledger.region_actor()
    step = 0

    def tick() -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(step)

    # -- January: the organisation department sets up units, communities and settings ----------
    with simulated(at(date(year, 1, 5), 9)):
        ledger.set_report_deadline(actor=region, year=year, deadline=date(year, 8, 31))
        ledger.change_region_settings(actor=region, storage_cap_minutes=1500 * 60)
        units = [setup.register_unit(ledger, region, name=n, unit_type=t, declared_members=d) for n, t, d in UNITS]
        communities = [setup.register_community(ledger, region, name=n, street=s) for n, s in COMMUNITIES]
        ledger.register_auditor(actor=region, label="玄武区委组织部审计组")
    summary.units, summary.communities = len(units), len(communities)
    for index, unit in enumerate(units):
        with simulated(at(date(year, 1, 8), 10)):
            setup.pair(ledger, unit, communities[index])

    # -- February: communities set posts, teams, the service menu, the catalogue, counters -------
    furnished: dict[UUID, FurnishedCommunity] = {}
    for community in communities:
        furnished[community.actor_id] = furnish_community(ledger, community, rng, moment=at(date(year, 2, 3), 9))
        tick()

    # -- March–September: enrolment, report slips, registration (some late, some never) ----------
    used_names: set[str] = set()
    registered: list[tuple[Actor, Actor, Actor]] = []  # member, unit, community
    never_index = set(rng.sample(range(members), max(3, members // 30)))
    exempt_index = set(rng.sample(sorted(set(range(members)) - never_index), 4))
    for index in range(members):
        unit = units[index % len(units)]
        community = communities[index % len(communities)] if rng.random() < 0.7 else rng.choice(communities)
        enrol_day = date(year, 3, 2) + timedelta(days=rng.randint(0, 20))
        with simulated(at(enrol_day, 9, rng.randint(0, 59))):
            member_id, slip_id = enrol_demo_member(
                ledger, rng, unit=unit, community=community, name=_name(rng, used_names),
                # the same ids on every run: tests that pick "the richest member, ties by id" pick the
                # same one each time
                member_id=stable_id("demo-member", summary.region_code, seed, index))
            summary.member_ids.append(member_id)
        summary.members += 1
        member = Actor(member_id, Role.MEMBER)
        if index in exempt_index:
            with simulated(at(date(year, 4, 1), 15)):
                ledger.grant_exemption(actor=unit, member_id=member_id, year=year,
                                       reason=rng.choice(EXEMPTION_REASONS))
        if index in never_index or index in exempt_index:
            summary.never_reported += index in never_index
            tick()
            continue
        late = rng.random() < 0.06
        report_day = (date(year, 9, 1) + timedelta(days=rng.randint(1, 30)) if late
                      else enrol_day + timedelta(days=rng.randint(3, 120)))
        report_day = min(report_day, date(year, 9, 30))
        posts = furnished[community.actor_id].posts
        claimed = rng.sample(sorted(posts.values()), rng.choice([1, 1, 2]))
        with simulated(at(report_day, 10, rng.randint(0, 59))):
            ledger.register_member(actor=community, member_id=member_id, post_ids=claimed, slip_id=slip_id,
                                   profile=_profile(rng), personal=_personal(rng),
                                   willing_other_service=rng.random() < 0.7)
            ledger.join_team(actor=community, member_id=member_id, team_id=rng.choice(furnished[community.actor_id].teams))
            if rng.random() < 0.85:
                ledger.give_consent(actor=member, member_id=member_id, purpose=ConsentPurpose.UNIT_FEEDBACK,
                                    recipient=str(unit.actor_id))
        if len(claimed) == 2 and rng.random() < 0.3:
            with simulated(at(report_day + timedelta(days=30), 11)):
                ledger.release_post(actor=member, member_id=member_id, post_id=claimed[1])
        registered.append((member, unit, community))
        summary.registered += 1
        tick()

    # -- The year's service: orders, sessions, ratings, certification, corrections, complaints ---
    today_limit = min(date(year, 12, 20), ledger.today() if ledger.today().year == year else date(year, 12, 20))
    for member, _unit, community in registered:
        info = furnished[community.actor_id]
        member_state = ledger.get_member(member.actor_id)
        start_day = (member_state.reported_on or date(year, 4, 1)) + timedelta(days=1)
        if start_day >= today_limit - timedelta(days=20):
            continue
        # a member's sessions in date order, each after the last decision on the one before: the
        # account's entries are then stamped in the order they are applied, as in a live region
        drawn = sorted(start_day + timedelta(days=rng.randint(0, max(1, (today_limit - start_day).days - 15)))
                       for _ in range(rng.choice([0, 1, 2, 2, 3, 3, 4, 5, 6, 8])))
        not_before = start_day
        last = at(start_day, 0)

        def after_last(moment: datetime) -> datetime:  # the member's own steps never go back in time
            nonlocal last
            last = max(moment, last + timedelta(minutes=1))
            return last

        for service_day in drawn:
            service_day = max(service_day, not_before)
            if service_day >= today_limit:
                break
            activity, content, post_name = rng.choice(ACTIVITIES)
            posts = info.posts
            order_id = None
            resident = rng.choice(info.residents)
            if rng.random() < 0.25:
                with simulated(at(service_day - timedelta(days=2), 8)):
                    order_id = ledger.place_order(actor=resident, community_id=community.actor_id,
                                                  menu_item_id=rng.choice(info.menu), note="请尽快安排")
                    ledger.dispatch_order(actor=community, order_id=order_id, member_id=member.actor_id)
                with simulated(at(service_day - timedelta(days=1), 20)):
                    ledger.accept_order(actor=member, order_id=order_id)
                if rng.random() < 0.1:
                    with simulated(at(service_day - timedelta(days=1), 21)):
                        ledger.cancel_order(actor=resident, order_id=order_id, reason="居民临时外出")
                    continue
            start_hour = rng.choice([8, 9, 14, 15, 18])
            span = rng.choice([60, 90, 120, 150, 180, 240])
            minutes = span - rng.choice([0, 0, 0, 10, 15, 30])
            recorded_after = rng.choice([0, 1, 2, 3, 5]) if rng.random() > 0.08 else rng.randint(15, 30)
            record_day = min(_workday_after(service_day, recorded_after), today_limit)
            end = datetime.combine(service_day, time(start_hour)) + timedelta(minutes=span)
            with simulated(after_last(at(record_day, 19, rng.randint(0, 59)))):
                session_id = ledger.record_session(
                    actor=member, member_id=member.actor_id, activity=activity, content=content,
                    place=rng.choice(PLACES), service_date=service_day, start_time=f"{start_hour:02d}:00",
                    end_time=end.strftime("%H:%M"), minutes=minutes, post_id=posts.get(post_name),
                    order_id=order_id, organiser="社区党委",
                    recipient="服务对象" if order_id else "社区居民")
            summary.sessions += 1
            decide_day = min(record_day + timedelta(days=rng.randint(1, 6)), today_limit)
            not_before = decide_day + timedelta(days=1)
            with simulated(after_last(at(decide_day, 10, rng.randint(0, 59)))):
                rater = resident if order_id else community
                ledger.rate_session(actor=rater, session_id=session_id,
                                    rating=rng.choices(["优", "良", "一般"], weights=[5, 4, 1])[0])
                if rng.random() < 0.05:
                    ledger.reject_session(actor=community, session_id=session_id, reason="活动未在社区备案，无法核实")
                    continue
                ledger.certify_session(actor=community, session_id=session_id)
                summary.certified += 1
            roll = rng.random()
            if roll < 0.05:
                not_before = decide_day + timedelta(days=8)
                with simulated(after_last(at(min(decide_day + timedelta(days=7), today_limit), 16))):
                    ledger.correct_session(actor=community, session_id=session_id,
                                           changes={"minutes": max(30, minutes - 30)},
                                           reason="党员申请更正：实际服务时间少半小时")
            elif roll < 0.07:
                not_before = decide_day + timedelta(days=11)
                with simulated(after_last(at(min(decide_day + timedelta(days=10), today_limit), 16))):
                    ledger.uphold_complaint(actor=community, session_id=session_id,
                                            reason="居民投诉属实：服务未实际开展")
        tick()

    # -- Suggestions, redemptions, consents to transfer -----------------------------------------
    outcomes: set[str] = set()
    for member, _unit, community in registered:
        member_state = ledger.get_member(member.actor_id)
        day = max(member_state.reported_on or date(year, 5, 1), date(year, 5, 1)) + timedelta(days=rng.randint(5, 60))
        day = min(day, today_limit)
        make_suggestions(ledger, rng, member=member, community=community, day=day, until=today_limit, outcomes=outcomes,
                         adopted_note="已纳入社区年度计划")
        info = furnished[community.actor_id]
        counter = info.counter
        balance = ledger.get_balance_minutes(member.actor_id)
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            item_id = rng.choice(info.catalogue)[0]
            price = ledger.get_community(community.actor_id).catalogue[item_id][1]
            if price > balance:
                break
            moment = at(min(day + timedelta(days=rng.randint(1, 30)), today_limit), 15, rng.randint(0, 59))
            # a redemption spends minutes already in the account: it comes after the account's last entry,
            # so the passbook's time order is the order the minutes moved
            moment = max(moment, _last_entry_time(ledger, member.actor_id) + timedelta(minutes=1))
            with simulated(moment):
                try:
                    result = ledger.redeem(actor=counter, member_id=member.actor_id,
                                           redemption_id=_redemption_id(rng), items=[(item_id, 1)])
                except LedgerError:
                    break
            balance = result.balance_minutes
            summary.redemptions += 1
    for member, _, _ in registered[:2]:
        with simulated(at(min(date(year, 10, 15), today_limit), 9)):
            ledger.give_consent(actor=member, member_id=member.actor_id, purpose=ConsentPurpose.TRANSFER,
                                recipient="320104")

    # -- A key rotation at one counter and one member's erasure request --------------------------
    first_counter = furnished[communities[0].actor_id].counter
    with simulated(at(today_limit, 23, 0)):  # after every event the old key signed
        ledger.rotate_key(authority=communities[0], owner=first_counter, reason="收银终端更换")
    if len(registered) > 3:
        member, _, community = registered[3]
        with simulated(at(today_limit, 23, 30)):
            ledger.erase_personal_data(actor=community, member_id=member.actor_id, reason="党员本人申请删除个人信息")
    summary.events = ledger.recorder.max_notification_id() or 0
    return summary


def _redemption_id(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)
