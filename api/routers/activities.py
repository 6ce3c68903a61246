"""签到签退 Activities at the venue (issue #15): open and close an activity, show its rotating check-in
code, members scan it to check in and out, the organiser scans a member's code or records a group
(团体录入); sessions are drafted from presence with assurance `checked_in`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import APIRouter

from api.deps import ActorDep, CommandsDep, LedgerDep
from api.commands import Commands
from api.errors import COMMAND_RESPONSES, READ_RESPONSES
from api.policy import authorize
from api.schemas.activities import (
    ActivityIn,
    ActivityOut,
    CheckinCodeOut,
    GroupEntryIn,
    MemberScanIn,
    OfflineScanIn,
    OfflineScanOut,
    OrganiserIn,
    OrganisersOut,
    OrganiserOut,
    OrganiserWithdrawalIn,
    PresenceShareIn,
    ScanIn,
    ScanOut,
    ScansOut,
    activity_out,
    offline_scan_out,
    scan_out,
)
from api.routers.offline import register_device
from api.schemas.offline import DeviceKeyIn, DeviceKeyOut
from api.routers.region import run_setting
from api.schemas.common import DoneOut, IdOut
from ledger.domain.base import utc_now
from ledger.signing import keys as ed25519
from ledger.verification.checkin_code import seconds_left

router = APIRouter(tags=["activities 签到签退"])


def _on_activity(commands: Commands, action: str, activity_id: UUID, call: Callable[[Any, Any], Any],
                 present: Callable[[Any], Any], body: Any = None) -> object:
    """A command on one activity (or on the community that runs it): authorised on it, `call(ledger, actor)`
    in the writer."""
    ledger, actor = commands.services.ledger, commands.actor
    return commands.run(action=action, object_id=activity_id, body=body, present=present,
                        call=lambda: call(ledger, actor))


def _scans_out(results: list[Any]) -> ScansOut:
    return ScansOut(results=[scan_out(r) for r in results])


@router.post("/v1/communities/{community_id}/activities", status_code=201, response_model=IdOut,
             responses=COMMAND_RESPONSES, summary="开放活动签到 Open an activity",
             description="社区（或其指定的活动组织者）为服务菜单项或岗位开放一次活动（同一天内的计划起止时间），现场出示"
                         "滚动签到码。/ A community (or an organiser it named) opens an activity for a menu item or a "
                         "post and shows a rotating code.")
def open_activity(community_id: UUID, body: ActivityIn, commands: CommandsDep) -> object:
    ledger, actor = commands.services.ledger, commands.actor
    return commands.run(action="activity.open", object_id=community_id, body=body, status_code=201,
                        present=lambda i: IdOut(id=i),
                        call=lambda: ledger.open_activity(
                            actor=actor, title=body.title, place=body.place, service_date=body.service_date,
                            start_time=body.start_time, end_time=body.end_time,
                            expected_members=body.expected_members, post_id=body.post_id,
                            menu_item_id=body.menu_item_id, activity_id=body.activity_id,
                            community_id=community_id))


@router.post("/v1/communities/{community_id}/organisers", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="指定活动组织者 Name an organiser",
             description="社区指定本社区已报到的党员为活动组织者：可开放活动、出示签到码、扫码、团体录入、结束活动（以本人"
                         "密钥签名），不能认证服务记录。/ The community names one of its registered members organiser: "
                         "they run its activities, signing with their own key; they certify nothing.")
def name_organiser(community_id: UUID, body: OrganiserIn, commands: CommandsDep) -> object:
    return _on_activity(commands, "community.name_organiser", community_id, body=body, present=lambda _: DoneOut(),
                        call=lambda ledger, actor: ledger.name_organiser(actor=actor, member_id=body.member_id))


@router.post("/v1/communities/{community_id}/organisers/{member_id}/withdrawal", response_model=DoneOut,
             responses=COMMAND_RESPONSES, summary="撤销活动组织者 Withdraw an organiser")
def withdraw_organiser(community_id: UUID, member_id: UUID, body: OrganiserWithdrawalIn,
                       commands: CommandsDep) -> object:
    return _on_activity(commands, "community.withdraw_organiser", community_id, body=body,
                        present=lambda _: DoneOut(), call=lambda ledger, actor: ledger.withdraw_organiser(
                            actor=actor, member_id=member_id, reason=body.reason))


@router.get("/v1/communities/{community_id}/organisers", response_model=OrganisersOut, responses=READ_RESPONSES,
            summary="活动组织者 The community's organisers")
def organisers(community_id: UUID, actor: ActorDep, ledger: LedgerDep) -> OrganisersOut:
    authorize(ledger, actor, "community.read_organisers", community_id)
    return OrganisersOut(organisers=[OrganiserOut(member_id=member_id, name=name)
                                     for member_id, name in ledger.organisers_of(community_id)])


@router.get("/v1/activities/{activity_id}", response_model=ActivityOut, responses=READ_RESPONSES,
            summary="活动与签到情况 An activity and its check-ins")
def read_activity(activity_id: UUID, actor: ActorDep, ledger: LedgerDep) -> ActivityOut:
    authorize(ledger, actor, "activity.read", activity_id)
    return activity_out(ledger.get_activity(activity_id))


@router.get("/v1/activities/{activity_id}/checkin-code", response_model=CheckinCodeOut, responses=READ_RESPONSES,
            summary="当前签到码 The current check-in code",
            description="社区密钥签名，每30秒更换；只接受当前和上一个时段的码（转发的照片很快失效）。/ Signed by the "
                        "community's key, rotating every 30 s; only the current and the previous window are "
                        "accepted.")
def checkin_code(activity_id: UUID, actor: ActorDep, ledger: LedgerDep) -> CheckinCodeOut:
    authorize(ledger, actor, "activity.show_code", activity_id)
    now = utc_now()
    return CheckinCodeOut(code=ledger.checkin_code(actor=actor, activity_id=activity_id, moment=now),
                          seconds_left=seconds_left(now))


@router.post("/v1/activities/{activity_id}/scans", response_model=ScanOut, responses=COMMAND_RESPONSES,
             summary="扫码签到/签退 Check in or out by scanning",
             description="党员扫描现场签到码：首次为签到，再次为签退；签退时按在场时间生成服务记录（信用时长）。/ The "
                         "member's scan: first in, then out; check-out drafts the session from the presence.")
def scan(activity_id: UUID, body: ScanIn, commands: CommandsDep) -> object:
    return _on_activity(commands, "activity.scan", activity_id, body=body, present=scan_out,
                        call=lambda ledger, actor: ledger.scan_checkin_code(
                            actor=actor, code=body.code, activity_id=activity_id, action=body.action))


@router.post("/v1/activities/{activity_id}/member-scans", response_model=ScanOut, responses=COMMAND_RESPONSES,
             summary="扫党员码签到 The organiser scans a member's code")
def scan_member(activity_id: UUID, body: MemberScanIn, commands: CommandsDep) -> object:
    return _on_activity(commands, "activity.scan_member", activity_id, body=body, present=scan_out,
                        call=lambda ledger, actor: ledger.scan_member_code(
                            actor=actor, activity_id=activity_id, member_id=body.member_id, action=body.action))


@router.post("/v1/activities/{activity_id}/group-entries", response_model=ScansOut, responses=COMMAND_RESPONSES,
             summary="团体录入 Check a group in or out",
             description="一次录入多名党员；每人一条签名事件，同一事务。/ Several members in one step; each their own "
                         "signed event, one transaction.")
def group_entry(activity_id: UUID, body: GroupEntryIn, commands: CommandsDep) -> object:
    return _on_activity(commands, "activity.group_entry", activity_id, body=body, present=_scans_out,
                        call=lambda ledger, actor: ledger.record_group(
                            actor=actor, activity_id=activity_id, member_ids=body.member_ids, action=body.action))


@router.post("/v1/activities/{activity_id}/closure", response_model=ScansOut, responses=COMMAND_RESPONSES,
             summary="结束活动 Close an activity",
             description="未签退者按活动结束时间签退并标记，在场达最低比例的生成服务记录。/ A forgotten check-out is "
                         "closed at the activity's end and flagged.")
def close(activity_id: UUID, commands: CommandsDep) -> object:
    return _on_activity(commands, "activity.close", activity_id, present=_scans_out,
                        call=lambda ledger, actor: ledger.close_activity(actor=actor, activity_id=activity_id))


@router.put("/v1/region/presence-share", response_model=DoneOut, responses=COMMAND_RESPONSES,
            summary="签到最低在场比例 Minimum presence share",
            description="签到生成服务记录所需的最低在场比例（默认60%），以签名事件记录并注明依据。/ The least share "
                        "of the planned time a member must be present (default 60 %), with its reason.")
def set_presence_share(body: PresenceShareIn, commands: CommandsDep) -> object:
    return run_setting(commands, "region.set_presence_share", body, commands.services.ledger.set_presence_share,
                       percent=body.percent)


# -- the venue device offline (issue #15 part 2): its own key, scans signed offline and synced later ----
@router.post("/v1/activities/device-keys", status_code=201, response_model=DeviceKeyOut, responses=COMMAND_RESPONSES,
             summary="登记签到设备密钥 Register the venue device's key",
             description="社区的签到设备（组织方手机或平板）在浏览器中生成 Ed25519 密钥对（私钥不可导出），联网时由社区登录"
                         "提交公钥，由地区认证登记；同一公钥再次提交返回原登记。/ The venue device makes its key pair in "
                         "the browser; the community's login submits the public key once, online, and the region "
                         "certifies it. The same key again returns its registration.")
def register_venue_device(body: DeviceKeyIn, commands: CommandsDep) -> object:
    return register_device(body, commands, "activity.register_device")


@router.post("/v1/activities/{activity_id}/offline-scans", response_model=OfflineScanOut,
             responses=COMMAND_RESPONSES, summary="同步离线扫码 Sync a scan taken offline",
             description="签到设备离线时扫党员码并以设备密钥签名，联网后按序逐条同步：服务端核对设备密钥（本社区登记且未吊销）"
                         "与签名、活动（本社区、未结束）、党员（在本社区报到），按扫码时间签到或签退；同一 scan_id 重复同步"
                         "返回原结果（applied=false）。/ Re-checks the device key and signature, the activity and the "
                         "member, and checks in or out as at the scan's time; the same scan id again gets the "
                         "original answer.")
def sync_offline_scan(activity_id: UUID, body: OfflineScanIn, commands: CommandsDep) -> object:
    record: dict[str, Any] = body.record.model_dump()
    return _on_activity(commands, "activity.sync_offline", activity_id, body=body, present=offline_scan_out,
                        call=lambda ledger, actor: ledger.sync_offline_scan(
                            actor=actor, activity_id=activity_id, record=record, signature=ed25519.unb64(body.signature)))
