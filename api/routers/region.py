"""地区 Region: settings, reporting deadlines, scoring policies, holiday calendars, registering units,
communities, auditors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.commands import Commands
from api.deps import ActorDep, CommandsDep, LedgerDep
from api.errors import COMMAND_RESPONSES, READ_RESPONSES
from api.policy import authorize
from api.schemas.common import DoneOut, IdOut
from api.schemas.offices import CounterConfirmationIn
from api.schemas.organisations import CommunityIn, UnitIn
from api.schemas.region import (
    CalendarIn,
    CalendarOut,
    CalendarPublishedOut,
    LabelIn,
    RegionOut,
    RegionSettingsIn,
    ReportDeadlineIn,
    RescoreIn,
    ScoringPolicyIn,
    ScoringPolicyOut,
    TransferTimeoutIn,
)

router = APIRouter(tags=["region 地区"])
Year = Annotated[int, Path(ge=2000, le=2100, examples=[2026])]


def run_setting(commands: Commands, action: str, body: Any, change: Callable[..., Any], **values: Any) -> object:
    """A region setting: authorised as `action`, `change(actor=…, reason=body.reason, **values)` signed by the
    region with the body's reason; the answer is 'done'."""
    return commands.run(action=action, body=body, present=lambda _: DoneOut(),
                        call=lambda: change(actor=commands.actor, reason=body.reason, **values))


@router.get("/v1/region", response_model=RegionOut, responses=READ_RESPONSES, summary="地区设置 Region settings")
def read_region(actor: ActorDep, ledger: LedgerDep) -> RegionOut:
    authorize(ledger, actor, "region.read")
    region = ledger.get_region()
    return RegionOut(code=region.code, name=region.name, display_name=region.display_name,
                     storage_cap_minutes=region.storage_cap_minutes, report_deadlines=dict(region.report_deadlines),
                     policy_from_year=dict(region.policy_from_year), policy_by_year=dict(region.policy_by_year),
                     root_public_key=ledger.root_public_key(), transfer_timeout_days=region.transfer_timeout_days)


@router.post("/v1/region/settings", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="修改地区设置 Change region settings",
             description="对外名称（默认“爱心时间银行”）、时间账户存储上限。/ Display name and the account storage cap.")
def change_settings(body: RegionSettingsIn, commands: CommandsDep) -> object:
    return run_setting(commands, "region.change_settings", body, commands.services.ledger.change_region_settings,
                       display_name=body.display_name, storage_cap_minutes=body.storage_cap_minutes,
                       clear_storage_cap=body.clear_storage_cap)


@router.put("/v1/region/report-deadlines/{year}", response_model=DoneOut, responses=COMMAND_RESPONSES,
            summary="设置报到截止日期 Set the reporting deadline",
            description="通知默认为当年8月底。/ The notice's default is 31 August of the campaign year.")
def set_deadline(year: Year, body: ReportDeadlineIn, commands: CommandsDep) -> object:
    return run_setting(commands, "region.set_deadline", body, commands.services.ledger.set_report_deadline,
                       year=year, deadline=body.deadline)


@router.put("/v1/region/transfer-timeout", response_model=DoneOut, responses=COMMAND_RESPONSES,
            summary="设置转移回执时限 Set the transfer timeout",
            description="转出后等待转入地区回执的天数（默认30天），超时可撤销转出；须说明原因。/ Days a pending "
                        "transfer-out waits for the destination's receipt (default 30) before it may be voided; "
                        "a change gives its reason.")
def set_transfer_timeout(body: TransferTimeoutIn, commands: CommandsDep) -> object:
    return run_setting(commands, "region.set_transfer_timeout", body, commands.services.ledger.set_transfer_timeout,
                       days=body.days)


@router.post("/v1/region/scoring-policies", status_code=201, response_model=IdOut, responses=COMMAND_RESPONSES,
             summary="发布积分办法 Publish a scoring policy",
             description="新版本自 from_year 起适用；已发布版本不可更改。/ A new version applies from `from_year`; "
                         "published versions never change, so past stars can be recomputed exactly.")
def publish_policy(body: ScoringPolicyIn, commands: CommandsDep) -> object:
    return commands.run(action="region.publish_policy", body=body, status_code=201, present=lambda i: IdOut(id=i),
                        call=lambda: commands.services.ledger.publish_scoring_policy(
                            actor=commands.actor, version=body.version, rules=body.rules.as_rules(), note=body.note,
                            from_year=body.from_year))


@router.get("/v1/region/scoring-policies/{version}", response_model=ScoringPolicyOut, responses=READ_RESPONSES,
            summary="积分办法 A scoring policy")
def read_policy(version: Annotated[int, Path(ge=1, le=10_000)], actor: ActorDep, ledger: LedgerDep) -> ScoringPolicyOut:
    authorize(ledger, actor, "policy.read")
    policy = ledger.get_scoring_policy(version)
    return ScoringPolicyOut(version=policy.version, region_code=policy.region_code, rules=policy.rules,
                            note=policy.note)


@router.post("/v1/region/rescoring", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="重新评定某年 Re-score a year")
def rescore(body: RescoreIn, commands: CommandsDep) -> object:
    return run_setting(commands, "region.rescore", body, commands.services.ledger.rescore_year, year=body.year,
                       version=body.version)


@router.put("/v1/region/calendars/{year}", response_model=CalendarPublishedOut, responses=COMMAND_RESPONSES,
            summary="发布法定节假日安排 Publish a year's holiday calendar",
            description="国务院办公厅关于某年部分节假日安排的通知：放假日期与调休上班日。签名、分版本的地区事件；"
                        "此后录入的服务记录按此计算是否逾期（10个工作日）。/ Days off and make-up working days as "
                        "the State Council published them: a signed, versioned region event used for the late "
                        "flag from then on.")
def publish_calendar(year: Year, body: CalendarIn, commands: CommandsDep) -> object:
    return commands.run(action="region.publish_calendar", body=body,
                        present=lambda version: CalendarPublishedOut(year=year, version=version),
                        call=lambda: commands.services.ledger.publish_calendar(
                            actor=commands.actor, year=year, holidays=body.holidays, workdays=body.workdays,
                            source=body.source, published_on=body.published_on))


@router.get("/v1/region/calendars/{year}", response_model=CalendarOut, responses=READ_RESPONSES,
            summary="工作日日历 The working-day calendar of a year")
def read_calendar(year: Year, actor: ActorDep, ledger: LedgerDep) -> CalendarOut:
    authorize(ledger, actor, "region.read")
    calendar = ledger.work_calendar().years.get(year)
    if calendar is None:
        return CalendarOut(year=year, covered=False, origin="monday-friday", holidays=[], workdays=[])
    return CalendarOut(year=year, covered=True, origin=calendar.origin, holidays=sorted(calendar.holidays),
                       workdays=sorted(calendar.workdays), source=calendar.source,
                       published_on=calendar.published_on)


@router.post("/v1/region/auditors", status_code=201, response_model=IdOut, responses=COMMAND_RESPONSES,
             summary="登记审计 Register an auditor",
             description="审计只读，不能写入；其登录另行开设。/ Auditors read and verify, never write.")
def register_auditor(body: LabelIn, commands: CommandsDep) -> object:
    return commands.run(action="auditor.register", body=body, status_code=201, present=lambda i: IdOut(id=i),
                        alone=True, call=lambda: commands.services.ledger.register_auditor(
                            actor=commands.actor, label=body.label))


@router.post("/v1/units", status_code=201, response_model=IdOut, responses=COMMAND_RESPONSES,
             summary="登记单位党组织 Register a unit")
def register_unit(body: UnitIn, commands: CommandsDep) -> object:
    return commands.run(action="unit.register", body=body, status_code=201, present=lambda i: IdOut(id=i),
                        alone=True, call=lambda: commands.services.ledger.register_unit(
                            actor=commands.actor, name=body.name, unit_type=body.unit_type,
                            declared_members=body.declared_members, request_id=commands.request_id))


@router.post("/v1/communities", status_code=201, response_model=IdOut, responses=COMMAND_RESPONSES,
             summary="登记社区党组织 Register a community",
             description="社区自动获得8个标准岗位。/ The community gets the 8 standard posts.")
def register_community(body: CommunityIn, commands: CommandsDep) -> object:
    return commands.run(action="community.register", body=body, status_code=201, present=lambda i: IdOut(id=i),
                        alone=True, call=lambda: commands.services.ledger.register_community(
                            actor=commands.actor, name=body.name, county=body.county, street=body.street,
                            request_id=commands.request_id))


@router.put("/v1/region/counter-confirmation", response_model=DoneOut, responses=COMMAND_RESPONSES,
            summary="柜台核对本人 Counters confirm the member",
            description="开启后，爱心超市柜台须勾选“已当面核对本人”才能兑换（默认关闭）；须说明原因。/ When on, a "
                        "counter must tick “checked in person” before redeeming (default off); a change gives its "
                        "reason.")
def set_counter_confirmation(body: CounterConfirmationIn, commands: CommandsDep) -> object:
    return run_setting(commands, "region.change_settings", body, commands.services.ledger.set_counter_confirmation,
                       required=body.required)
