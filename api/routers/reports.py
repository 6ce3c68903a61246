"""报表 Lists and reports, from the read models of projections/ (issue #3).

Each list or report covers one scope — the whole region, one unit, one community or one member —
chosen by the `unit_id` / `community_id` / `member_id` filter (at most one; none means the whole
region, for the region admin and auditors). The scope is authorised with the `report.*` rows of
api/policy.py. Lists are paginated (`offset`, `limit` ≤ 200) in a stable order; reports come as
JSON, CSV, XLSX or PDF (Chinese fonts embedded) exactly as `timeledger report` prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import ActorDep, LedgerDep, ServicesDep
from api.errors import READ_RESPONSES
from api.policy import authorize
from api.schemas.common import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, PageOut
from api.schemas.reports import BalanceRowOut, ListOut, MemberRowOut, MissingRowOut, SessionRowOut
from ledger.application import Actor, Ledger
from ledger.domain.base import utc_now
from ledger.domain.errors import InvalidInput, NotPermitted
from ledger.domain.values import CHINA_TIME

router = APIRouter(tags=["reports 报表"])
ScopeName = Literal["region", "unit", "community", "member"]
Offset = Annotated[int, Query(ge=0, le=10**7, description="跳过的行数 / rows to skip")]
Limit = Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX, description="每页行数 / rows per page")]
YearQuery = Annotated[int | None, Query(ge=2000, le=2100, description="年度，缺省为今年 / year (default: this year)")]
UnitQuery = Annotated[UUID | None, Query(description="只看该单位 / only this unit")]
CommunityQuery = Annotated[UUID | None, Query(description="只看该社区 / only this community")]
MemberQuery = Annotated[UUID | None, Query(description="只看该党员 / only this member")]


def this_year() -> int:
    return utc_now().astimezone(CHINA_TIME).year  # the ledger's clock (a demo may have moved it)


def resolve_scope(ledger: Ledger, actor: Actor, supported: Sequence[ScopeName], *, unit_id: UUID | None = None,
                  community_id: UUID | None = None, member_id: UUID | None = None) -> tuple[ScopeName, str | None]:
    """The scope the filters name (none: the whole region), authorised; returns (scope, id)."""
    given = [(name, value) for name, value in (("unit", unit_id), ("community", community_id),
                                               ("member", member_id)) if value is not None]
    if len(given) > 1:
        raise InvalidInput("give at most one of unit_id, community_id and member_id")
    scope, object_id = (given[0][0], str(given[0][1])) if given else ("region", None)
    if scope not in supported:
        raise InvalidInput(f"this list or report covers {', '.join(supported)}; not a single {scope}")
    authorize(ledger, actor, f"report.{scope}", object_id)
    return scope, object_id  # type: ignore[return-value]  # scope is checked against `supported` just above


def _page(items: list[Any], offset: int, limit: int, total: int | None = None) -> PageOut:
    total = total if total is not None else len(items)
    return PageOut(total=total, offset=offset, limit=limit,
                   next_offset=offset + limit if offset + limit < total else None)


# -- lists --------------------------------------------------------------------------------------------

@router.get("/v1/lists/members", response_model=ListOut[MemberRowOut], responses=READ_RESPONSES,
            summary="党员登记册 Member register (list)",
            description="按报到日期、入册日期、姓名排序。范围：全区、单位或社区。/ Ordered by report date, enrolment, "
                        "name; scope: region, a unit or a community. No personal fields.")
def list_members(actor: ActorDep, ledger: LedgerDep, services: ServicesDep, year: YearQuery = None,
                 unit_id: UnitQuery = None, community_id: CommunityQuery = None, offset: Offset = 0,
                 limit: Limit = PAGE_SIZE_DEFAULT) -> ListOut[MemberRowOut]:
    from projections import queries as q

    scope, object_id = resolve_scope(ledger, actor, ("region", "unit", "community"), unit_id=unit_id,
                                     community_id=community_id)
    with services.read_models.current() as views:
        records = q.members(views, year=year, unit_id=object_id if scope == "unit" else None,
                            community_id=object_id if scope == "community" else None)
        position = views.position()
    rows = [MemberRowOut(
        member_id=r.member_id, name=r.name, party_status=r.party_status, job_title=r.job_title, unit_id=r.unit_id,
        unit_name=r.unit_name, community_id=r.community_id, community_name=r.community_name,
        enrolled_on=r.enrolled_on, reported_on=r.reported_on, report_late=r.report_late, posts=list(r.posts),
        teams=list(r.teams), willing_other_service=r.willing_other_service, personal_erased=r.personal_erased,
        moved_on=r.closed_on) for r in records[offset:offset + limit]]
    return ListOut[MemberRowOut](items=rows, page=_page(records, offset, limit), position=position)


@router.get("/v1/lists/sessions", response_model=ListOut[SessionRowOut], responses=READ_RESPONSES,
            summary="服务记录列表：认证待办、补录 Sessions: certification queue, late records",
            description="status=recorded 为待认证队列；late=true 为补录记录。按录入顺序排序。范围：全区、社区或党员。/ "
                        "status=recorded is the certification queue; late=true the late records. Ordered as "
                        "recorded. Scope: region, a community or a member.")
def list_sessions(actor: ActorDep, ledger: LedgerDep, services: ServicesDep, year: YearQuery = None,
                  community_id: CommunityQuery = None, member_id: MemberQuery = None,
                  status: Annotated[Literal["recorded", "certified", "rejected"] | None,
                                    Query(description="recorded 待认证 / certified 已认证 / rejected 不予认证")] = None,
                  late: Annotated[bool | None, Query(description="只看补录 / only late records")] = None,
                  offset: Offset = 0, limit: Limit = PAGE_SIZE_DEFAULT) -> ListOut[SessionRowOut]:
    from projections import queries as q

    scope, object_id = resolve_scope(ledger, actor, ("region", "community", "member"), community_id=community_id,
                                     member_id=member_id)
    with services.read_models.current() as views:
        total, rows = q.sessions_page(views, year=year, community_id=object_id if scope == "community" else None,
                                      member_id=object_id if scope == "member" else None, status=status, late=late,
                                      offset=offset, limit=limit)
        position = views.position()
    items = [SessionRowOut(
        session_id=r.session_id, member_id=r.member_id, member_name=r.member_name or "", community_id=r.community_id,
        service_date=r.service_date, start_time=r.start_time, end_time=r.end_time, activity=r.activity,
        minutes=r.minutes, status=r.status, rating=r.rating, late=r.late, recorded_on=r.recorded_on,
        certified_minutes=r.certified_minutes, rejection_reason=r.rejection_reason, assurance=r.assurance) for r in rows]
    return ListOut[SessionRowOut](items=items, page=_page(items, offset, limit, int(total)), position=position)


@router.get("/v1/lists/missing", response_model=ListOut[MissingRowOut], responses=READ_RESPONSES,
            summary="未达基本要求名单 Members missing basic requirements",
            description="未报到、未认领岗位、服务少于2次、未提建议者，取消当年评先评优资格（有故者免于报到要求，已报到者仍须达到服务要求）。范围：全区、单位或社区。/ "
                        "Members who lose the year's award eligibility, and why.")
def list_missing(actor: ActorDep, ledger: LedgerDep, services: ServicesDep, year: YearQuery = None,
                 unit_id: UnitQuery = None, community_id: CommunityQuery = None, offset: Offset = 0,
                 limit: Limit = PAGE_SIZE_DEFAULT) -> ListOut[MissingRowOut]:
    from projections import queries as q

    scope, object_id = resolve_scope(ledger, actor, ("region", "unit", "community"), unit_id=unit_id,
                                     community_id=community_id)
    year = year or this_year()
    with services.read_models.current() as views:
        years = q.member_years(views, year=year, unit_id=object_id if scope == "unit" else None,
                               community_id=object_id if scope == "community" else None)
        position = views.position()
    missing = [y for y in years if y.missing]
    items = [MissingRowOut(
        member_id=y.member.member_id, name=y.member.name, unit_name=y.member.unit_name,
        community_name=y.member.community_name, year=year, reported=y.reported, sessions=y.sessions,
        suggestions=y.suggestions, certified_minutes=y.certified_minutes, missing=list(y.missing))
        for y in missing[offset:offset + limit]]
    return ListOut[MissingRowOut](items=items, page=_page(missing, offset, limit), position=position)


@router.get("/v1/lists/balances", response_model=ListOut[BalanceRowOut], responses=READ_RESPONSES,
            summary="时间账户余额表 Balances (list)",
            description="按社区、姓名排序。范围：全区、单位或社区。/ Ordered by community and name.")
def list_balances(actor: ActorDep, ledger: LedgerDep, services: ServicesDep, unit_id: UnitQuery = None,
                  community_id: CommunityQuery = None, offset: Offset = 0,
                  limit: Limit = PAGE_SIZE_DEFAULT) -> ListOut[BalanceRowOut]:
    from projections import queries as q

    scope, object_id = resolve_scope(ledger, actor, ("region", "unit", "community"), unit_id=unit_id,
                                     community_id=community_id)
    with services.read_models.current() as views:
        rows = q.balances(views, unit_id=object_id if scope == "unit" else None,
                          community_id=object_id if scope == "community" else None)
        position = views.position()
    items = [BalanceRowOut(
        member_id=b.member_id, name=b.name, unit_name=b.unit_name, community_id=b.community_id,
        community_name=b.community_name, available_minutes=b.available_minutes, deposited_minutes=b.deposited_minutes,
        redeemed_minutes=b.redeemed_minutes, clawed_back_minutes=b.clawed_back_minutes, owed_minutes=b.owed_minutes,
        redemptions=b.redemptions, frozen=b.frozen, closed=b.closed) for b in rows[offset:offset + limit]]
    return ListOut[BalanceRowOut](items=items, page=_page(rows, offset, limit), position=position)


# -- printable reports ----------------------------------------------------------------------------------

ReportKind = Literal["unit-stats", "register", "card", "feedback", "eligibility", "stars", "balances", "overview",
                     "slip", "receipt", "member-form"]
SLIP_KINDS = ("slip", "receipt")  # 附件1: one report slip, authorised by the slip's own rows
SlipQuery = Annotated[UUID | None, Query(description="报到单编号（slip、receipt）/ report slip id (slip, receipt)")]
REPORT_SCOPES: dict[str, tuple[ScopeName, ...]] = {
    "member-form": ("member",),  # 附件2 (authorised by `member.read`, see build_report)
    "unit-stats": ("region", "unit"),  # 附件3
    "register": ("region", "community"),  # 附件4
    "card": ("member",),  # 附件5
    "feedback": ("region", "unit"),  # 服务纪实反馈 (only members who consented)
    "eligibility": ("region", "unit", "community"),
    "stars": ("region", "unit", "community"),
    "balances": ("region", "unit", "community", "member"),
    "overview": ("region",),
}
MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8", "pdf": "application/pdf",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@router.get("/v1/reports/{kind}", responses={
    **READ_RESPONSES, 200: {"description": "报表文件 / the report", "content": {
        media: {"schema": {"type": "string", "format": "binary"}} for media in MEDIA.values() if media != MEDIA["json"]}}},
            summary="报表（附件3/4/5 等）Reports as JSON, CSV, XLSX or PDF",
            description="slip 附件1 报到单（需 slip_id，单位打印）· receipt 附件1 回执单（需 slip_id，社区打印）· "
                        "member-form 附件2 登记表（需 member_id）· unit-stats 附件3 统计表 · register 附件4 登记表 · card 附件5 记录卡（需 member_id）· feedback 服务纪实反馈 "
                        "· eligibility 评先评优资格 · stars 积分和星级 · balances 余额 · overview 全区概况。personal=true 时登记表和"
                        "记录卡显示个人信息，仅限本社区（和本人、本单位的记录卡）。/ The notice's printable forms; "
                        "personal=true adds personal fields for the member's own community (and, on the card, the "
                        "member and their unit).")
def report(kind: ReportKind, actor: ActorDep, ledger: LedgerDep, services: ServicesDep, year: YearQuery = None,
           unit_id: UnitQuery = None, community_id: CommunityQuery = None, member_id: MemberQuery = None,
           format: Annotated[Literal["json", "csv", "xlsx", "pdf"], Query(description="文件格式 / file format")] = "json",
           personal: Annotated[bool, Query(description="含个人信息 / include personal fields")] = False,
           slip_id: SlipQuery = None) -> Response:
    from projections.render import render

    document = build_report(kind, actor, ledger, services, year=year, unit_id=unit_id, community_id=community_id,
                            member_id=member_id, slip_id=slip_id, personal=personal)
    data = render(document, format)
    filename = f"{kind}-{str(slip_id)[:8]}.{format}" if kind in SLIP_KINDS else f"{kind}-{year or this_year()}.{format}"
    return Response(content=data, media_type=MEDIA[format],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})


def build_report(kind: str, actor: Actor, ledger: Ledger, services: Any, *, year: int | None = None,
                 unit_id: UUID | None = None, community_id: UUID | None = None, member_id: UUID | None = None,
                 slip_id: UUID | None = None, personal: bool = False) -> Any:
    """The report document, authorised: the scope's `report.*` row (附件1: the slip's own rows, and
    reading the member it names; 附件2: reading the member, like the registration it records); personal fields only under `member.read_personal` /
    `report.community_personal`; the unit's telephone is not a personal field."""
    from projections import reports

    personal_data = None
    scope: ScopeName
    object_id: str | None
    if kind in SLIP_KINDS:
        if slip_id is None or unit_id or community_id or member_id:
            raise InvalidInput("报到单和回执单只需报到单编号 slip_id / give slip_id only")
        authorize(ledger, actor, "slip.read", slip_id)
        scope, object_id = "member", str(ledger.get_report_slip(slip_id).member_id)
        authorize(ledger, actor, "member.read", object_id)  # a community sees the name once registered
    elif kind == "member-form":  # 附件2 is the member's record, not the service record: `member.read`
        if member_id is None or unit_id or community_id:
            raise InvalidInput("登记表只需党员编号 member_id / give member_id only")
        authorize(ledger, actor, "member.read", member_id)
        scope, object_id = "member", str(member_id)
    else:
        scope, object_id = resolve_scope(ledger, actor, REPORT_SCOPES[kind], unit_id=unit_id,
                                         community_id=community_id, member_id=member_id)
    if personal:
        if kind == "register" and scope == "community":
            authorize(ledger, actor, "report.community_personal", object_id)
        elif kind in ("card", "member-form", "slip"):
            authorize(ledger, actor, "member.read_personal", object_id)
        else:
            raise NotPermitted("personal fields appear only on a community's register, a member's card, "
                               "登记表 and 报到单")
        personal_data = ledger.member_personal_data
    year = year or this_year()
    with services.read_models.current() as views:
        return reports.build(kind, views, year=year, member_id=object_id if scope == "member" else None,
                             unit_id=object_id if scope == "unit" else None,
                             community_id=object_id if scope == "community" else None,
                             slip_id=str(slip_id) if slip_id else None, personal_data=personal_data,
                             work_data=ledger.member_personal_data)
