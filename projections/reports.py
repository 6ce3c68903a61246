"""The printable reports, as render documents: `projections.render.render(report, fmt)` makes the
PDF, XLSX, CSV or JSON.

Each function reads the views (call `Views.catch_up()` first for the latest events) and returns a
`Report` laid out like the notice's paper forms:

- `unit_stats`  附件3 在职党员社区报到情况统计表 (one unit or every unit);
- `register`    附件4 在职党员社区报到登记表 (one community or every community);
- `card`        附件5 在职党员社区服务（活动）记录卡 (one member, one year);
- `feedback`    服务纪实反馈: the communities' year-end record to each unit;
- `eligibility` 评先评优资格名单, with the reason for each member;
- `stars`       积分和星级评定;
- `balances`    爱心时间银行 balances (rows keyed `member_id`, `deposited_minutes`, … in JSON);
- `overview`    the region's participation overview, with charts;
- `slip`        附件1 在职党员社区报到单 (the unit prints it from the slip it issued);
- `receipt`     附件1 在职党员社区报到回执单 (the community prints it when the member registers);
- `member_form` 附件2 在职党员基本情况登记表 (one member, printed by the community).

Personal fields (ethnicity, health, birth month, addresses, the member's own phone) appear only on
the register, the 登记表, the 报到单 and the card, and only when the caller passes `personal_data`
(e.g. `ledger.member_personal_data`) because the viewer may read them (api/policy.py's
`member.read_personal` / `report.community_personal`). The unit's telephone (单位电话) is not a
personal field: it prints for whoever may read the form, from `work_data` (the same decryption,
limited to `WORK_FIELDS`). Nothing personal is ever logged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Literal
from uuid import UUID

from ledger.domain.calendar import no_calendar_note
from ledger.domain.display import ASSURANCE_TEXT, duration_text, duration_words
from ledger.domain.errors import InvalidInput, NotFound, PersonalDataErased
from ledger.domain.values import STANDARD_POSTS, Assurance
from projections import queries as q
from projections.projector import Views
from projections.render.model import (
    Chart,
    Column,
    FormCell,
    FormGrid,
    QRCode,
    Report,
    Section,
    SignatureBox,
    Table,
    Text,
    chinese_date,
)

PersonalData = Callable[[UUID], dict[str, str]]
Kind = Literal["unit-stats", "register", "card", "feedback", "eligibility", "stars", "balances", "overview",
               "slip", "receipt", "member-form"]
KINDS: tuple[str, ...] = ("unit-stats", "register", "card", "feedback", "eligibility", "stars", "balances",
                          "overview", "slip", "receipt", "member-form")
WORK_FIELDS = ("unit_phone",)  # sealed with the personal fields, but the unit's, not the member's
MEMBER_CHECK_LINE = ("如何核对：用手机扫描本页二维码；或请所在社区、单位登录本地区爱心时间银行，"
                     "在“审计核验”页面核对。")

HIDDEN = "（保密）"  # a personal field the viewer may not see
ERASED = "（已删除）"  # crypto-shredded at the member's request
STAR = "★"
CHART_CATEGORIES_MAX = 12  # more bars than this do not read; the rest go under 其他


def _stars_text(stars: int) -> str:
    return STAR * stars if stars else "—"


def _yes_no(value: bool) -> str:
    return "是" if value else "否"


def _percent(part: int, whole: int) -> str:
    if whole <= 0:
        return "—"
    tenths = (part * 1000 * 2 + whole) // (whole * 2)
    return f"{tenths // 10}.{tenths % 10}%"


def _position_line(info: q.RegionInfo) -> str:
    return f"数据截至第 {info.position} 条签名事件；可用 timeledger verify 核验。"


def _technical_section(info: q.RegionInfo, *lines: str) -> Section:
    """The second page of a member's paper: what an auditor needs, kept off the first page."""
    return Section(heading="技术说明（供审计人员使用）", new_page=True,
                   items=[Text([*lines, _position_line(info)], size=9)])


def _calendar_lines(views: Views, year: int) -> list[str]:
    """A report of a year no holiday calendar covers says that its working days (the 10-day late
    flag) were counted Monday–Friday."""
    note = no_calendar_note(year, q.work_calendar(views))
    return [note] if note else []


def _region_subtitle(info: q.RegionInfo) -> list[str]:
    return [f"{info.name}（{info.code}）· {info.display_name}"] if info.code else []


def _unit_or_fail(views: Views, unit_id: str | None) -> list[q.UnitInfo]:
    chosen = [u for u in q.units(views) if unit_id is None or u.unit_id == unit_id]
    if unit_id is not None and not chosen:
        raise NotFound(f"unit {unit_id} not found")
    return chosen


def _scope(views: Views, unit_id: str | None, community_id: str | None) -> list[tuple[str, str]]:
    """Meta lines naming the unit or community a report is limited to (NotFound if unknown)."""
    scope = []
    if unit_id is not None:
        scope.append(("单位", _unit_or_fail(views, unit_id)[0].name))
    if community_id is not None:
        scope.append(("社区", _community_or_fail(views, community_id)[0].name))
    return scope


def _community_or_fail(views: Views, community_id: str | None) -> list[q.CommunityInfo]:
    chosen = [c for c in q.communities(views) if community_id is None or c.community_id == community_id]
    if community_id is not None and not chosen:
        raise NotFound(f"community {community_id} not found")
    return chosen


# =================================================================================================
# 附件3 在职党员社区报到情况统计表


UNIT_STATS_COLUMNS = [
    Column("unit", "单位名称", 26),
    Column("declared", "在职党员总数", 8, "right", "int"),
    Column("reported", "报到党员总数", 8, "right", "int"),
    Column("communities", "报到涉及社区数", 8, "right", "int"),
    Column("not_reported", "未到社区报到的党员数", 10, "right", "int"),
    Column("reasons", "未报到的主要原因", 30),
]


def unit_stats(views: Views, *, year: int, unit_id: str | None = None) -> Report:
    """附件3: filled in by each unit from the communities' receipts (报到 by the end of the year)."""
    _unit_or_fail(views, unit_id)
    info = q.region(views)
    years = q.member_years(views, year=year, unit_id=unit_id)
    stats = q.unit_stats(views, year=year, unit_id=unit_id, years=years)
    rows: list[dict[str, Any]] = [{"unit": s.unit.name, "declared": s.declared_members, "reported": s.reported,
             "communities": s.communities_involved, "not_reported": s.not_reported, "reasons": s.reasons_text}
            for s in stats]
    totals: dict[str, Any] | None = None
    if len(stats) > 1:
        totals = {"unit": "合计", "declared": sum(s.declared_members for s in stats),
                  "reported": sum(s.reported for s in stats),
                  "communities": len({m.member.community_id for m in years
                                      if m.reported and m.member.unit_id is not None}),
                  "not_reported": sum(s.not_reported for s in stats), "reasons": ""}
    note = "\n".join(["“在职党员总数”为单位申报数；逾期报到计入报到党员。",
                      *(f"提示：{warning.message}" for s in stats for warning in s.warnings)])
    if unit_id is not None:  # one unit: the paper form, a label beside each figure
        form = [{"item": column.header, "value": str(rows[0][column.key])} for column in UNIT_STATS_COLUMNS]
        items: list[Any] = [Table(name="报到情况统计", columns=[Column("item", "项目", 24), Column("value", "填报内容", 48)],
                                  rows=form, note=note), SignatureBox("单位党组织（盖章）")]
    else:
        items = [Table(name="报到情况统计", columns=UNIT_STATS_COLUMNS, rows=rows, totals_row=totals, note=note)]
    sections = [Section(items=items)]
    if len(stats) > 1:
        sections.append(Section(heading="各单位报到情况", items=[Chart(
            kind="bar", title="报到与未报到党员数", categories=[_short(s.unit.name) for s in stats],
            series=[("已报到", [s.reported for s in stats]), ("未报到", [s.not_reported for s in stats])],
            y_label="人数")]))
    meta = [("统计年度", f"{year}年")]
    return Report(title="在职党员社区报到情况统计表", subtitle_lines=_region_subtitle(info), meta=meta,
                  sections=sections,
                  footer_lines=["注：此表由单位党组织填写，并报上级党（工）委。", *_calendar_lines(views, year),
                                _position_line(info)])


def _short(name: str, chars: int = 10) -> str:
    return name if len(name) <= chars else name[: chars - 1] + "…"


# =================================================================================================
# 附件4 在职党员社区报到登记表


REGISTER_FOOTNOTE = "注：此表供参考，由社区党组织汇总填写，报上级党（工）委留存备案。"  # the form's own footnote
REGISTER_COLUMNS = [
    Column("no", "序号", 5, "center", "int"),
    Column("name", "姓名", 7),
    Column("sex", "性别", 5, "center"),
    Column("birth_month", "出生年月", 8, "center"),
    Column("joined_party", "入党时间", 8, "center"),
    Column("education", "文化程度", 10),
    Column("speciality", "专业特长", 8),
    Column("hobbies", "兴趣爱好", 8),
    Column("unit_post", "工作单位及职务", 16),
    Column("unit_type", "单位属性（机关、事业、企业、大专院校）", 8, "center"),
    Column("address", "住址", 16),
    Column("unit_phone", "单位电话", 12),
    Column("mobile", "手机", 12, "center"),
    Column("project", "志愿服务项目", 12),
    Column("team", "志愿服务小组", 10),
    Column("reported_on", "报到日期", 10, "center", "date"),
    Column("other_service", "是否愿意参加社区其他服务", 6, "center"),
]
REGISTER_PERSONAL = {"birth_month": "birth_month", "address": "home_address", "mobile": "mobile"}
REGISTER_WORK = {"unit_phone": "unit_phone"}
UNIT_POST_SEPARATOR = "\u3000"  # an ideographic space between the unit's name and the job title


def sealed_fields(member: q.MemberRecord, fields: Sequence[str], personal_data: PersonalData | None,
                  work_data: PersonalData | None = None) -> dict[str, str]:
    """The member's sealed 登记表 fields by name, as a viewer may see them: a personal field only
    with `personal_data`, else （保密）; a `WORK_FIELDS` field with either; （已删除） once erased."""
    if not member.has_personal:
        return {name: "" for name in fields}
    if member.personal_erased:
        return {name: ERASED for name in fields}
    readable = [name for name in fields if personal_data is not None or (work_data is not None and name in WORK_FIELDS)]
    values: dict[str, str] = {}
    reader = personal_data or work_data
    if readable and reader is not None:
        try:
            values = reader(UUID(member.member_id))
        except PersonalDataErased:
            return {name: ERASED for name in fields}
    return {name: values.get(name, "") if name in readable else HIDDEN for name in fields}


def _personal_cells(member: q.MemberRecord, personal_data: PersonalData | None,
                    work_data: PersonalData | None = None) -> dict[str, str]:
    columns = {**REGISTER_PERSONAL, **REGISTER_WORK}
    values = sealed_fields(member, list(columns.values()), personal_data, work_data)
    return {key: values[name] for key, name in columns.items()}


def unit_and_post(member: q.MemberRecord) -> str:
    """工作单位及职务: the unit's name and the job title, separated."""
    return UNIT_POST_SEPARATOR.join(part for part in (member.unit_name, member.job_title) if part)


def register(views: Views, *, year: int, community_id: str | None = None,
             personal_data: PersonalData | None = None, work_data: PersonalData | None = None) -> Report:
    """附件4: the members who reported to each community by the end of the year."""
    chosen = _community_or_fail(views, community_id)
    info = q.region(views)
    by_community: dict[str | None, list[q.MemberRecord]] = defaultdict(list)
    for member in q.members(views, year=year, community_id=community_id, reported_only=True):
        by_community[member.community_id].append(member)
    sections = []
    for community in chosen:
        rows = []
        for number, member in enumerate(by_community.get(community.community_id, []), start=1):
            rows.append({
                "no": number, "name": member.name, "sex": member.sex, "joined_party": member.party_joined,
                "education": member.education, "speciality": member.specialities, "hobbies": member.hobbies,
                "unit_post": unit_and_post(member),
                "unit_type": member.unit_type, "project": "、".join(member.posts), "team": "、".join(member.teams),
                "reported_on": member.reported_on, "other_service": _yes_no(member.willing_other_service),
                **_personal_cells(member, personal_data, work_data)})
        heading = "" if community_id else f"{community.county} {community.street} {community.name}党组织"
        sections.append(Section(heading=heading, items=[Table(
            name=f"{community.name}报到登记" if community_id is None else "报到登记", columns=REGISTER_COLUMNS,
            rows=rows, note="社区党组织须对表中有关信息保密。" if personal_data else
            "出生年月、住址和手机仅向党员所在社区和单位党组织显示。")]))
    meta: list[tuple[str, str]] = [("年度", f"{year}年")]
    if community_id is not None:
        community = chosen[0]
        meta = [("县（市、区）", community.county), ("街道（乡镇）", community.street),
                ("社区党组织", community.name), *meta]
    return Report(title="在职党员社区报到登记表", subtitle_lines=_region_subtitle(info), meta=meta,
                  sections=sections, landscape=True,
                  footer_lines=[REGISTER_FOOTNOTE, *_calendar_lines(views, year),
                                _position_line(info)])


# =================================================================================================
# 附件5 在职党员社区服务（活动）记录卡


CARD_COLUMNS = [
    Column("date", "年月日", 11, "center", "date"),
    Column("content", "服务（活动）内容", 30),
    Column("place", "服务地点", 14),
    Column("minutes", "本次服务时间（时:分）", 9, "right", "hours"),
    Column("cumulative_minutes", "累计服务时间（时:分）", 9, "right", "hours"),
    Column("rating", "评价（优/良/一般）", 8, "center"),
    Column("certified_by", "认证签字", 18, "center"),
]


CARD_FOOTNOTE = ("注：此表供参考。在职党员每次参加社区服务活动后，经服务对象或活动组织方、社区党组织评价并签字认证；"
                 "个人累计服务（活动）时间由社区党组织负责统计、核准并签字认证。")


def certified_by_text(session: q.SessionRecord) -> str:
    """附件5's 认证签字 for one session: who rated it (the 活动组织方, when one is named), the
    community party organisation that certified it, and the date it did."""
    lines = [f"评价：{session.organiser}"] if session.organiser else []
    lines.append(f"认证：{session.certified_by}党组织")
    if session.assurance != Assurance.SELF_REPORTED.value:  # 签到签退 or 补录: how the hours were recorded
        lines.append(ASSURANCE_TEXT[session.assurance])
    if session.certified_on is not None:
        lines.append(chinese_date(session.certified_on))
    return "\n".join(lines)


def card(views: Views, *, year: int, member_id: str | None, personal_data: PersonalData | None = None) -> Report:
    """附件5 for one member and one year: each certified session with the running total."""
    if not member_id:
        raise InvalidInput("the record card is for one member: give the member id")
    found = q.members(views, member_id=member_id)
    if not found:
        raise NotFound(f"member {member_id} not found")
    member = found[0]
    info = q.region(views)
    sessions = q.certified_sessions(views, year=year, member_id=member_id)
    rows: list[dict[str, Any]] = []
    cumulative = 0
    for session in sessions:
        cumulative += session.certified_minutes
        content = session.content if session.content.startswith(session.activity) else \
            f"{session.activity}：{session.content}"
        rows.append({"date": session.service_date, "content": content, "place": session.place,
                     "minutes": session.certified_minutes, "cumulative_minutes": cumulative,
                     "rating": session.rating, "certified_by": certified_by_text(session)})
    table = Table(name="服务记录", columns=CARD_COLUMNS, rows=rows,
                  totals_row={"date": "个人累计社区服务活动时间（时:分）", "minutes": cumulative,
                              "cumulative_minutes": cumulative})
    meta = [("在职党员姓名", member.name), ("工作单位", member.unit_name), ("报到社区", member.community_name or "未报到")]
    if personal_data is not None and member.has_personal and not member.personal_erased:
        try:
            mobile = personal_data(UUID(member_id)).get("mobile", "")
        except PersonalDataErased:
            mobile = ""
        if mobile:
            meta.append(("本人联系电话", mobile))
    payload = (f"timeledger:card?region={info.code}&member={member_id}&year={year}&sessions={len(rows)}"
               f"&minutes={cumulative}&position={info.position}")
    imported = [f"另有转移接续带入的{item.source}地区本年度认证服务 {item.sessions} 次、{duration_words(item.certified_minutes)}"
                f"（以原地区签名记录为准，不计入上表）。" for item in q.imported_history(views, member_id=member_id, year=year)]
    return Report(
        title="在职党员社区服务（活动）记录卡", subtitle_lines=[f"{year}年度", *_region_subtitle(info)], meta=meta,
        sections=[Section(items=[table, SignatureBox("社区党组织认证签字（盖章）"),
                                 QRCode(payload, "扫码核对本记录卡")]),
                  Section(items=[Text([CARD_FOOTNOTE, "被投诉属实而归零的服务不计入。", *imported, MEMBER_CHECK_LINE],
                                      size=8.5)]),
                  _technical_section(info, f"党员编号：{member_id}", f"二维码内容：{payload}",
                                     *_calendar_lines(views, year))])


# =================================================================================================
# 服务纪实反馈 (community → unit, year end)


FEEDBACK_COLUMNS = [
    Column("no", "序号", 4, "center", "int"),
    Column("name", "姓名", 7),
    Column("community", "报到社区", 12),
    Column("reported", "报到情况", 15, "center"),
    Column("sessions", "服务次数", 5, "right", "int"),
    Column("minutes", "服务时长（时:分）", 7, "right", "hours"),
    Column("ratings", "评价（优/良/一般）", 10, "center"),
    Column("assurance", "记录方式（时:分）", 14),
    Column("suggestions", "建议（条）", 5, "right", "int"),
    Column("points", "积分", 7, "right"),
    Column("stars", "星级", 7, "center"),
    Column("requirements", "基本要求", 6, "center"),
    Column("eligibility", "评先评优资格", 6, "center"),
    Column("reason", "说明", 16),
]
NO_CONSENT = "本人未同意向单位反馈服务记录（个人信息保护法）"


def _reported_text(my: q.MemberYear) -> str:
    if my.reported:
        assert my.member.reported_on is not None
        return ("逾期 " if my.member.report_late else "") + my.member.reported_on.isoformat()
    if my.exemption is not None:
        return "有故未报到"
    return "未报到"


def assurance_text(minutes_by_assurance: dict[str, int]) -> str:
    """How a year's certified hours were recorded, each class with its hours (none: —)."""
    return "\n".join(f"{ASSURANCE_TEXT[assurance]} {duration_text(minutes)}"
                     for assurance, minutes in minutes_by_assurance.items() if minutes) or "—"


def _feedback_row(number: int, my: q.MemberYear, consented: bool) -> dict[str, Any]:
    if not consented:
        return {"no": number, "name": my.member.name, "community": my.member.community_name, "reason": NO_CONSENT}
    return {
        "no": number, "name": my.member.name, "community": my.member.community_name, "reported": _reported_text(my),
        "sessions": my.sessions, "minutes": my.certified_minutes,
        "ratings": f"{my.sessions_excellent}/{my.sessions_good}/{my.sessions_fair}",
        "assurance": assurance_text(my.minutes_by_assurance), "suggestions": my.suggestions, "points": my.points_text,
        "stars": _stars_text(my.stars), "requirements": "达到" if my.requirements_met else "未达到",
        "eligibility": "保留" if my.eligible else "取消", "reason": my.reason}


def feedback(views: Views, *, year: int, unit_id: str | None = None, require_consent: bool = True) -> Report:
    """The year-end 服务纪实反馈 to each unit. A member's record goes to the unit only with the
    member's consent naming that unit (ConsentGiven, purpose unit_feedback)."""
    chosen = _unit_or_fail(views, unit_id)
    info = q.region(views)
    by_unit: dict[str | None, list[q.MemberYear]] = defaultdict(list)
    for my in q.member_years(views, year=year, unit_id=unit_id):
        by_unit[my.member.unit_id].append(my)
    sections = []
    for unit in chosen:
        rows = [_feedback_row(number, my, my.member.unit_feedback_consent or not require_consent)
                for number, my in enumerate(by_unit.get(unit.unit_id, []), start=1)]
        items: list[Any] = [Table(name=f"{unit.name}" if unit_id is None else "服务纪实反馈", columns=FEEDBACK_COLUMNS,
                                  rows=rows, note=f"{unit.name}：{len(rows)}人，保留评先评优资格"
                                                  f"{sum(1 for my in by_unit.get(unit.unit_id, []) if my.eligible)}人。")]
        if unit_id is not None:
            items.append(SignatureBox("社区党组织（盖章）"))
        sections.append(Section(heading="" if unit_id else f"致 {unit.name}", items=items))
    meta = [("年度", f"{year}年")]
    if unit_id is not None:
        meta.append(("致", chosen[0].name))
    return Report(
        title="在职党员社区服务（活动）纪实情况反馈表", subtitle_lines=_region_subtitle(info), meta=meta,
        sections=sections, landscape=True,
        footer_lines=[("注：基本要求为报到（或经单位认定有故）、认领至少1个岗位、全年参加社区服务活动不少于2次、"
                       "提出建议不少于1条；未达到者取消当年各类评先评优资格。评价栏为优/良/一般的次数；记录方式栏为认证服务时长按"
                       "事后填报、签到签退、纸质记录导入的分布。"),
                      *_calendar_lines(views, year), _position_line(info)])


# =================================================================================================
# 评先评优资格名单 and 积分星级


ELIGIBILITY_COLUMNS = [
    Column("no", "序号", 5, "center", "int"),
    Column("name", "姓名", 8),
    Column("unit", "工作单位", 22),
    Column("community", "报到社区", 12),
    Column("reported", "报到情况", 14, "center"),
    Column("posts", "认领岗位数", 6, "right", "int"),
    Column("sessions", "认证服务次数", 6, "right", "int"),
    Column("suggestions", "建议条数", 6, "right", "int"),
    Column("eligibility", "评先评优资格", 7, "center"),
    Column("reason", "原因", 30),
]


def eligibility(views: Views, *, year: int, unit_id: str | None = None, community_id: str | None = None) -> Report:
    """Every member in scope with 保留 / 取消 and why (对无故不去社区报到，或虽报到但未达基本服务要求的
    在职党员，取消当年各类评先评优资格)."""
    scope = _scope(views, unit_id, community_id)
    info = q.region(views)
    years = q.member_years(views, year=year, unit_id=unit_id, community_id=community_id)
    years.sort(key=lambda my: (my.eligible, my.member.unit_name, my.member.name, my.member.member_id))
    rows: list[dict[str, Any]] = [{"no": number, "name": my.member.name, "unit": my.member.unit_name,
             "community": my.member.community_name, "reported": _reported_text(my),
             "posts": len(my.member.posts) if my.reported else 0, "sessions": my.sessions,
             "suggestions": my.suggestions, "eligibility": "保留" if my.eligible else "取消", "reason": my.reason}
            for number, my in enumerate(years, start=1)]
    lost = sum(1 for my in years if not my.eligible)
    return Report(
        title="在职党员评先评优资格名单", subtitle_lines=_region_subtitle(info),
        meta=[("年度", f"{year}年"), *scope, ("党员人数", str(len(years))), ("取消资格", f"{lost}人")],
        sections=[Section(items=[Table(name="评先评优资格", columns=ELIGIBILITY_COLUMNS, rows=rows)])],
        landscape=True,
        footer_lines=["注：取消资格者列在前面。有故（单位认定的正当理由）者免于报到要求；已报到者仍须达到基本服务要求。",
                      *_calendar_lines(views, year), _position_line(info)])


STARS_COLUMNS = [
    Column("rank", "名次", 5, "center", "int"),
    Column("name", "姓名", 8),
    Column("unit", "工作单位", 22),
    Column("community", "报到社区", 12),
    Column("sessions", "服务次数", 6, "right", "int"),
    Column("minutes", "服务时长（时:分）", 8, "right", "hours"),
    Column("adopted", "建议被采纳", 6, "right", "int"),
    Column("points", "积分", 8, "right"),
    Column("stars", "星级", 10, "center"),
    Column("policy", "评定办法版本", 6, "center"),
]


def stars(views: Views, *, year: int, unit_id: str | None = None, community_id: str | None = None) -> Report:
    """积分和星级评定 under the policy version in force for the year."""
    scope = _scope(views, unit_id, community_id)
    info = q.region(views)
    years = q.member_years(views, year=year, unit_id=unit_id, community_id=community_id)
    years.sort(key=lambda my: (-(my.points or 0), -my.stars, my.member.name, my.member.member_id))
    rows: list[dict[str, Any]] = [{"rank": number, "name": my.member.name, "unit": my.member.unit_name,
             "community": my.member.community_name, "sessions": my.sessions, "minutes": my.certified_minutes,
             "adopted": my.adopted_suggestions, "points": my.points_text,
             "stars": _stars_text(my.stars), "policy": f"v{my.policy_version}" if my.policy_version else "—"}
            for number, my in enumerate(years, start=1)]
    distribution = q.star_distribution(years)
    versions = sorted({my.policy_version for my in years if my.policy_version})
    return Report(
        title="在职党员志愿服务积分和星级评定表", subtitle_lines=_region_subtitle(info),
        meta=[("年度", f"{year}年"), *scope, ("评定办法", "、".join(f"v{v}" for v in versions) or "—"),
              ("党员人数", str(len(years)))],
        sections=[Section(items=[Table(name="积分星级", columns=STARS_COLUMNS, rows=rows)]),
                  Section(heading="星级分布", items=[_star_chart(distribution), _star_table(distribution)])],
        landscape=True,
        footer_lines=["注：未达到基本服务要求者当年不评星级。积分按四舍五入保留一位小数。", *_calendar_lines(views, year),
                      _position_line(info)])


def _star_chart(distribution: Sequence[int]) -> Chart:
    return Chart(kind="bar", title="星级分布", categories=["无星", *[STAR * n for n in range(1, 6)]],
                 series=[("人数", list(distribution))], y_label="人数")


def _star_table(distribution: Sequence[int]) -> Table:
    """One row: members per star level (a short table reads better across than down)."""
    levels = [("stars_0", "无星"), *[(f"stars_{n}", STAR * n) for n in range(1, 6)]]
    columns = [Column(key, label, 10, "center", "int") for key, label in levels]
    row = {key: count for (key, _), count in zip(levels, distribution)}
    return Table(name="星级分布", columns=[*columns, Column("total", "合计", 8, "center", "int")],
                 rows=[{**row, "total": sum(distribution)}])


# =================================================================================================
# 爱心时间银行 balances


BALANCE_COLUMNS = [
    Column("member_id", "党员编号", 38),
    Column("name", "姓名", 8),
    Column("community", "报到社区", 12),
    Column("deposited_minutes", "存入（时:分）", 12, "right", "hours"),
    Column("clawed_back_minutes", "扣回（时:分）", 12, "right", "hours"),
    Column("redeemed_minutes", "兑换（时:分）", 12, "right", "hours"),
    Column("transferred_minutes", "转移净额（时:分）", 10, "right", "hours"),
    Column("available_minutes", "可用余额（时:分）", 10, "right", "hours"),
    Column("owed_minutes", "待抵扣（时:分）", 10, "right", "hours"),
]
BALANCE_TOTAL_COLUMNS = [
    Column("community", "社区", 14),
    Column("accounts", "账户数", 6, "right", "int"),
    Column("deposited_minutes", "存入（时:分）", 12, "right", "hours"),
    Column("clawed_back_minutes", "扣回（时:分）", 12, "right", "hours"),
    Column("redeemed_minutes", "兑换（时:分）", 12, "right", "hours"),
    Column("available_minutes", "可用余额（时:分）", 10, "right", "hours"),
    Column("redemptions", "兑换笔数", 8, "right", "int"),
]


def balances(views: Views, *, unit_id: str | None = None, community_id: str | None = None,
             member_id: str | None = None) -> Report:
    """Balances now (the time bank has no year): per member, per community and for the region.
    Minutes stay whole numbers in the data (JSON); PDF, XLSX and CSV show hours."""
    scope = _scope(views, unit_id, community_id)
    info = q.region(views)
    accounts = q.balances(views, unit_id=unit_id, community_id=community_id, member_id=member_id)
    if member_id is not None and not accounts:
        raise NotFound(f"no time account for member {member_id}")
    rows: list[dict[str, Any]] = [{"member_id": b.member_id, "name": b.name, "community": b.community_name,
             "deposited_minutes": b.deposited_minutes, "clawed_back_minutes": b.clawed_back_minutes,
             "redeemed_minutes": b.redeemed_minutes,
             "transferred_minutes": b.transferred_in_minutes - b.transferred_out_minutes,
             "available_minutes": b.available_minutes, "owed_minutes": b.owed_minutes} for b in accounts]
    sums = {key: sum(row[key] for row in rows) for key in ("deposited_minutes", "clawed_back_minutes",
                                                           "redeemed_minutes", "transferred_minutes",
                                                           "available_minutes", "owed_minutes")}
    whole_region = unit_id is None and community_id is None and member_id is None
    # The whole region's sums are in the summary table below; a one-page-per-thousand-rows table
    # with a spanning totals row is also the slowest thing the PDF layout does.
    totals: dict[str, Any] | None = {"member_id": "合计", **sums} if rows and not whole_region else None
    sections = [Section(items=[Table(name="余额", columns=BALANCE_COLUMNS, rows=rows, totals_row=totals)])]
    if whole_region:
        by_community, whole = q.balance_totals(views)
        total_rows: list[dict[str, Any]] = [{"community": row.label, "accounts": row.accounts, **row.sums} for row in by_community]
        sections.append(Section(heading="按社区汇总", items=[Table(
            name="社区汇总", columns=BALANCE_TOTAL_COLUMNS, rows=total_rows,
            totals_row={"community": whole.label, "accounts": whole.accounts, **whole.sums})]))
    return Report(title="爱心时间银行账户余额", subtitle_lines=_region_subtitle(info),
                  meta=[*scope, ("账户数", str(len(rows)))], sections=sections, landscape=True,
                  footer_lines=[("注：存入为认证服务时长（超过储存上限的部分不计入）；投诉属实或更正减少的时长从余额扣回，"
                                 "余额不足部分记为待抵扣，由以后存入的时长先行抵扣。"), _position_line(info)])


# =================================================================================================
# The region overview


def overview(views: Views, *, year: int) -> Report:
    """Participation by unit and community, hours by month and by post, the star distribution."""
    info = q.region(views)
    years = q.member_years(views, year=year)
    unit_rows = q.unit_stats(views, year=year, years=years)
    community_rows = q.community_stats(views, year=year, years=years)
    months = q.minutes_by_month(views, year=year)
    posts = q.minutes_by_post(views, year=year)
    by_assurance = q.minutes_by_assurance(views, year=year)
    distribution = q.star_distribution(years)
    enrolled = len(years)
    reported = sum(1 for my in years if my.reported)
    active = sum(1 for my in years if my.sessions > 0)
    total_minutes = sum(my.certified_minutes for my in years)
    eligible = sum(1 for my in years if my.eligible)

    summary = Table(name="总体情况", columns=[Column("item", "项目", 20), Column("value", "数值", 14, "right")], rows=[
        {"item": "单位申报在职党员", "value": str(sum(u.declared_members for u in unit_rows))},
        {"item": "录入系统的党员", "value": str(enrolled)},
        {"item": "已到社区报到", "value": f"{reported}（{_percent(reported, enrolled)}）"},
        {"item": "有认证服务记录", "value": f"{active}（{_percent(active, enrolled)}）"},
        {"item": "认证服务时长（时:分）", "value": _hours(total_minutes)},
        {"item": "保留评先评优资格", "value": f"{eligible}（{_percent(eligible, enrolled)}）"},
    ])
    unit_table = Table(name="各单位参与情况", columns=[
        Column("unit", "单位", 24), Column("declared", "申报人数", 6, "right", "int"),
        Column("reported", "已报到", 6, "right", "int"), Column("rate", "报到率", 7, "right"),
        Column("active", "参加服务", 6, "right", "int"), Column("active_rate", "参与率", 7, "right"),
        Column("minutes", "服务时长（时:分）", 9, "right", "hours")],
        rows=[{"unit": s.unit.name, "declared": s.declared_members, "reported": s.reported,
               "rate": _percent(s.reported, max(s.declared_members, s.enrolled)), "active": s.active,
               "active_rate": _percent(s.active, max(s.declared_members, s.enrolled)),
               "minutes": s.certified_minutes} for s in unit_rows],
        note="注：报到率、参与率以单位申报人数与录入人数中较大者为基数。")
    community_table = Table(name="各社区参与情况", columns=[
        Column("community", "社区", 16), Column("registered", "报到党员", 6, "right", "int"),
        Column("active", "参加服务", 6, "right", "int"), Column("rate", "参与率", 7, "right"),
        Column("sessions", "服务次数", 6, "right", "int"), Column("minutes", "服务时长（时:分）", 9, "right", "hours"),
        Column("suggestions", "建议条数", 6, "right", "int")],
        rows=[{"community": s.community.name, "registered": s.registered, "active": s.active,
               "rate": _percent(s.active, s.registered), "sessions": s.sessions, "minutes": s.certified_minutes,
               "suggestions": s.suggestions} for s in community_rows])
    month_names = [f"{n}月" for n in range(1, 13)]
    month_table = Table(name="按月服务时长", columns=[
        *[Column(f"m{n}", name, 6, "right", "hours") for n, name in enumerate(month_names, start=1)],
        Column("total", "全年", 7, "right", "hours")],
        rows=[{**{f"m{n}": minutes for n, minutes in enumerate(months, start=1)}, "total": sum(months)}])
    shown = _top(posts)
    post_table = Table(name="按岗位服务时长", columns=[
        Column("post", "岗位/服务项目", 18), Column("sessions", "服务次数", 8, "right", "int"),
        Column("minutes", "服务时长（时:分）", 10, "right", "hours")],
        rows=[{"post": label, "sessions": sessions, "minutes": minutes} for label, sessions, minutes in posts])
    assurance_table = Table(name="按记录方式服务时长", columns=[
        Column("assurance", "记录方式", 18), Column("sessions", "服务次数", 8, "right", "int"),
        Column("minutes", "服务时长（时:分）", 10, "right", "hours"), Column("share", "占比", 8, "right")],
        rows=[{"assurance": ASSURANCE_TEXT[key], "sessions": sessions, "minutes": minutes,
               "share": _percent(minutes, sum(m for _, m in by_assurance.values()))}
              for key, (sessions, minutes) in by_assurance.items()],
        note="注：签到签退为现场扫码记录；事后填报由党员或社区事后录入；纸质记录导入为社区据纸质记录卡（附件5）录入。均经社区党组织认证。")

    sections = [
        Section(items=[summary]),
        Section(heading="各单位报到与参与情况", items=[
            unit_table,
            Chart(kind="bar", title="各单位报到率与参与率（%）", categories=[_short(s.unit.name) for s in unit_rows],
                  series=[("报到率", [_rate(s.reported, max(s.declared_members, s.enrolled)) for s in unit_rows]),
                          ("参与率", [_rate(s.active, max(s.declared_members, s.enrolled)) for s in unit_rows])],
                  y_label="%")]),
        Section(heading="各社区参与情况", items=[
            community_table,
            Chart(kind="bar", title="各社区服务时长", categories=[_short(s.community.name) for s in community_rows],
                  series=[("服务时长", [s.certified_minutes for s in community_rows])], y_label="小时",
                  value_kind="hours")]),
        Section(heading="服务时长按月分布", items=[
            Chart(kind="line", title="每月认证服务时长", categories=month_names, series=[("服务时长", months)],
                  y_label="小时", value_kind="hours"), month_table]),
        Section(heading="服务时长按岗位分布", items=[
            Chart(kind="bar", title="各岗位认证服务时长", categories=[_short(label, 7) for label, _ in shown],
                  series=[("服务时长", [minutes for _, minutes in shown])], y_label="小时", value_kind="hours"),
            post_table]),
        Section(heading="服务时长按记录方式分布", items=[assurance_table]),
        Section(heading="星级分布", items=[_star_chart(distribution), _star_table(distribution)]),
    ]
    return Report(title=f"{info.display_name or '爱心时间银行'}在职党员进社区服务情况概览",
                  subtitle_lines=[f"{year}年度", *_region_subtitle(info)], sections=sections,
                  meta=[("数据截至", f"第 {info.position} 条签名事件")], footer_lines=_calendar_lines(views, year))


def _hours(minutes: int) -> str:
    return duration_text(minutes)


def _rate(part: int, whole: int) -> float:
    """A percentage with one decimal, for charts."""
    return ((part * 1000 * 2 + whole) // (whole * 2)) / 10 if whole > 0 else 0.0


def _top(posts: Sequence[tuple[str, int, int]]) -> list[tuple[str, int]]:
    """At most CHART_CATEGORIES_MAX bars: the rest summed under 其他."""
    ordered = sorted(posts, key=lambda item: (-item[2], item[0] not in STANDARD_POSTS, item[0]))
    if len(ordered) <= CHART_CATEGORIES_MAX:
        return [(label, minutes) for label, _, minutes in ordered] or [("无", 0)]
    head = ordered[: CHART_CATEGORIES_MAX - 1]
    rest = sum(minutes for _, _, minutes in ordered[CHART_CATEGORIES_MAX - 1:])
    return [(label, minutes) for label, _, minutes in head] + [("其他", rest)]


# =================================================================================================
# 附件1 在职党员社区报到单 and 回执单


def _slip_or_fail(views: Views, slip_id: str | None) -> q.SlipRecord:
    if not slip_id:
        raise InvalidInput("报到单和回执单针对一张报到单：请给出报到单编号 (give the slip id)")
    found = q.slip(views, slip_id)
    if found is None:
        raise NotFound(f"report slip {slip_id} not found")
    return found


def _blank(text: str, width: int = 6) -> str:
    """A value written into a form's blank, or room to write it by hand."""
    return text if text else "\u3000" * width


def slip(views: Views, *, slip_id: str | None, personal_data: PersonalData | None = None) -> Report:
    """附件1 报到单: the unit's letter sending the member to the community, as the unit issued it.

    The member's phone is a personal field: printed only with `personal_data`, else left blank to
    fill in by hand (or （保密）)."""
    record = _slip_or_fail(views, slip_id)
    info = q.region(views)
    member, community = record.member, record.community
    phone = sealed_fields(member, ["mobile"], personal_data)["mobile"]
    address = f"{community.county}{community.street}{community.name}党组织："
    body = (f"我单位中共{member.party_status or '（正式/预备）'}党员 {member.name} 同志，"
            f"联系电话：{_blank(phone, 8)}，现到你处报到，请予登记并安排参加社区相关服务活动。")
    deadline = f"（请于{record.deadline.month}月{record.deadline.day}日之前报到）"
    return Report(
        title="在职党员社区报到单", subtitle_lines=_region_subtitle(info),
        meta=[("报到单编号", record.slip_id[:8]), ("派出单位", record.unit_name)],
        sections=[Section(items=[
            Text([address], size=12), Text([body], size=12, indent=True), Text([deadline], size=12, indent=True),
            SignatureBox(f"{record.unit_name}\n（单位党组织盖章）", date_text=chinese_date(record.issued_on),
                         right=True)])],
        footer_lines=[("注：在职党员携此报到单和《在职党员基本情况登记表》到社区党组织报到；"
                       "社区党组织登记后将回执单反馈单位党组织留存。"), f"报到单编号：{record.slip_id}"])


def receipt(views: Views, *, slip_id: str | None) -> Report:
    """附件1 回执单: the community's answer to the unit once the member registered, with the posts
    the member claimed."""
    record = _slip_or_fail(views, slip_id)
    if not record.registered:
        raise InvalidInput("该党员尚未到报到单所指社区报到登记，还没有回执单 (the member has not registered yet)")
    info = q.region(views)
    member = record.member
    assert member.reported_on is not None
    reported = member.reported_on
    posts = "、".join(member.posts) or "（未认领）"
    body = (f"你单位党员 {member.name} 同志已于 {reported.month} 月 {reported.day} 日到我处报到登记，"
            f"认领的社区服务岗位为 {posts}。")
    signed_on = record.receipt_sent_on or reported
    return Report(
        title="在职党员社区报到回执单", subtitle_lines=_region_subtitle(info),
        meta=[("报到单编号", record.slip_id[:8]), ("报到社区", record.community.name)],
        sections=[Section(items=[
            Text([f"{record.unit_name}："], size=12), Text([body], size=12, indent=True),
            SignatureBox(f"{record.community.name}党组织\n（社区党组织盖章）", date_text=chinese_date(signed_on),
                         right=True)])],
        footer_lines=["注：由社区党组织填写，反馈在职党员所在单位党组织留存。", f"报到单编号：{record.slip_id}"])


# =================================================================================================
# 附件2 在职党员基本情况登记表


FORM_PERSONAL = ("ethnicity", "health", "birth_month", "home_address", "unit_address", "mobile")
FORM_FOOTNOTE = "注：此表供参考，由在职党员填写好，报到时交社区党组织保存，社区党组织须对表中有关信息保密。"
CHECKED, UNCHECKED = "☑", "□"


def _posts_text(claimed: Sequence[str]) -> str:
    """认领岗位 as on the form: the standard posts with a tick for those claimed, two a line, then
    the community's own posts the member claimed."""
    boxes = [f"{CHECKED if name in claimed else UNCHECKED}{name}" for name in STANDARD_POSTS]
    lines = ["\u3000\u3000".join(boxes[index:index + 2]) for index in range(0, len(boxes), 2)]
    others = [name for name in claimed if name not in STANDARD_POSTS]
    if others:
        lines.append(f"{CHECKED}其他岗位：" + "、".join(others))
    return "\n".join(lines)


def member_form(views: Views, *, member_id: str | None, personal_data: PersonalData | None = None,
                work_data: PersonalData | None = None) -> Report:
    """附件2 for one member, every field of the notice's form: the clear fields for whoever may read
    the member, the personal ones only with `personal_data`; the signature and the photo are boxes
    left for the member."""
    if not member_id:
        raise InvalidInput("登记表针对一名党员：请给出党员编号 (give the member id)")
    found = q.members(views, member_id=member_id)
    if not found:
        raise NotFound(f"member {member_id} not found")
    member = found[0]
    info = q.region(views)
    sealed = sealed_fields(member, [*FORM_PERSONAL, *WORK_FIELDS], personal_data, work_data)
    community = next((c for c in q.communities(views) if c.community_id == member.community_id), None)
    reported_to = (f"{community.county}\u3000{community.street}\u3000{community.name}" if community
                   else "\u3000\u3000县（市、区）\u3000\u3000街道（乡镇）\u3000\u3000社区（村）")

    def label(text: str, colspan: int = 1) -> FormCell:
        return FormCell(text, colspan=colspan, label=True)

    def value(text: str, colspan: int = 1) -> FormCell:
        return FormCell(text, colspan=colspan)

    rows = [
        [label("姓名"), value(member.name), label("性别"), value(member.sex), label("民族"),
         value(sealed["ethnicity"]), label("健康状况"), value(sealed["health"]),
         FormCell("（照片）", rowspan=3, label=True)],
        [label("学历"), value(member.education), label("出生年月"), value(sealed["birth_month"]),
         label("入党时间"), value(member.party_joined, colspan=3)],
        [label("工作单位及职务"), value(unit_and_post(member), colspan=7)],
        [label("单位地址"), value(sealed["unit_address"], colspan=8)],
        [label("家庭住址"), value(sealed["home_address"], colspan=8)],
        [label("报到社区"), value(reported_to, colspan=8)],
        [label("认领岗位"), value(_posts_text(member.posts) + "\n（请至少认领一个岗位）", colspan=8)],
        [label("能参加社区服务的时间"), value(member.available_time, colspan=3), label("是否愿意参加社区其他服务", 2),
         value(_yes_no(member.willing_other_service), colspan=3)],
        [label("工作单位联系电话"), value(sealed["unit_phone"], colspan=3), label("本人联系电话/手机", 2),
         value(sealed["mobile"], colspan=3)],
    ]
    grid = FormGrid(name="基本情况", widths=[11, 11, 7, 9, 8, 8, 9, 8, 12], rows=rows,
                    heights_mm=[14, 14, 14, 11, 11, 11, 30, 14, 12])
    filled_on = f"填表日期：{chinese_date(member.reported_on)}"
    return Report(
        title="在职党员基本情况登记表", subtitle_lines=_region_subtitle(info),
        sections=[Section(items=[
            Text([f"本人签名：{'＿' * 10}\u3000\u3000\u3000\u3000{filled_on}"], size=10.5), grid])],
        footer_lines=[FORM_FOOTNOTE, *([] if personal_data else
                                       ["（保密）处为个人信息，仅向党员本人及其报到社区、所在单位党组织显示。"])])


# =================================================================================================
# One entry point for the CLI and the HTTP layer


def build(kind: str, views: Views, *, year: int, member_id: str | None = None, unit_id: str | None = None,
          community_id: str | None = None, slip_id: str | None = None, personal_data: PersonalData | None = None,
          work_data: PersonalData | None = None) -> Report:
    """The report of `kind` (one of KINDS). Personal fields only with `personal_data`; the unit's
    telephone with `work_data` too."""
    if kind == "slip":
        return slip(views, slip_id=slip_id, personal_data=personal_data)
    if kind == "receipt":
        return receipt(views, slip_id=slip_id)
    if kind == "member-form":
        return member_form(views, member_id=member_id, personal_data=personal_data, work_data=work_data)
    if kind == "unit-stats":
        return unit_stats(views, year=year, unit_id=unit_id)
    if kind == "register":
        return register(views, year=year, community_id=community_id, personal_data=personal_data,
                        work_data=work_data)
    if kind == "card":
        return card(views, year=year, member_id=member_id, personal_data=personal_data)
    if kind == "feedback":
        return feedback(views, year=year, unit_id=unit_id)
    if kind == "eligibility":
        return eligibility(views, year=year, unit_id=unit_id, community_id=community_id)
    if kind == "stars":
        return stars(views, year=year, unit_id=unit_id, community_id=community_id)
    if kind == "balances":
        return balances(views, unit_id=unit_id, community_id=community_id, member_id=member_id)
    if kind == "overview":
        return overview(views, year=year)
    raise InvalidInput(f"unknown report {kind!r}; expected one of {', '.join(KINDS)}")


__all__ = ["KINDS", "WORK_FIELDS", "PersonalData", "balances", "build", "card", "eligibility", "feedback",
           "member_form", "overview", "receipt", "register", "sealed_fields", "slip", "stars", "unit_stats"]
