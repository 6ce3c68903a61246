"""服务记录 Sessions: record, rate (优/良/一般), certify, reject, correct, uphold a complaint."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api.deps import ActorDep, CommandsDep, LedgerDep
from api.errors import COMMAND_RESPONSES, READ_RESPONSES
from api.policy import authorize
from api.schemas.common import DoneOut, IdOut
from api.routers.offline import register_device
from api.schemas.offline import DeviceKeyIn, DeviceKeyOut
from api.schemas.service import (
    CertifiedOut,
    CorrectionIn,
    DeltaOut,
    OfflineSessionIn,
    OfflineSessionOut,
    RatingIn,
    ReasonIn,
    SessionIn,
    SessionOut,
)
from ledger.domain.service_session import ServiceSession
from ledger.signing import keys as ed25519

router = APIRouter(prefix="/v1/sessions", tags=["sessions 服务记录"])


def session_out(session: ServiceSession) -> SessionOut:
    return SessionOut(
        id=session.id, member_id=session.member_id, community_id=session.community_id, activity=session.activity,
        content=session.content, place=session.place, service_date=session.service_date,
        start_time=session.start_time, end_time=session.end_time, minutes=session.minutes, post_id=session.post_id,
        order_id=session.order_id, organiser=session.organiser, recipient=session.recipient,
        recorded_on=session.recorded_on, late=session.late, status=session.status,
        rating=session.rating, rated_by_role=session.rated_by_role, certified_minutes=session.certified_minutes,
        certified_by=session.certified_by, certified_on=session.certified_on,
        rejection_reason=session.rejection_reason, complaint_upheld=session.complaint_upheld,
        corrections=session.corrections)


@router.post("", status_code=201, response_model=IdOut, responses=COMMAND_RESPONSES,
             summary="记录服务 Record a session",
             description="党员本人或所在社区记录。服务日期后超过10个工作日录入的标记为补录（late）。路途时间不计入。/ "
                         "Recorded by the member or their community; flagged late after 10 working days; travel "
                         "time is not service time.")
def record(body: SessionIn, commands: CommandsDep) -> object:
    ledger, actor = commands.services.ledger, commands.actor
    return commands.run(action="session.record", object_id=body.member_id, body=body, status_code=201,
                        present=lambda i: IdOut(id=i),
                        call=lambda: ledger.record_session(
                            actor=actor, member_id=body.member_id, activity=body.activity, content=body.content,
                            place=body.place, service_date=body.service_date, start_time=body.start_time,
                            end_time=body.end_time, minutes=body.minutes, post_id=body.post_id,
                            order_id=body.order_id, organiser=body.organiser, recipient=body.recipient,
                            session_id=body.session_id, request_id=commands.request_id))


@router.post("/offline/device-keys", status_code=201, response_model=DeviceKeyOut, responses=COMMAND_RESPONSES,
             summary="登记党员手机密钥 Register the member's phone key",
             description="党员手机在浏览器中生成 Ed25519 密钥对（私钥不可导出），联网时由党员登录提交公钥，由所在社区认证登记；"
                         "同一公钥再次提交返回原登记。/ The phone makes its key pair in the browser; the member's login "
                         "submits the public key once, online; the member's community certifies it.")
def register_phone(body: DeviceKeyIn, commands: CommandsDep) -> object:
    return register_device(body, commands, "session.register_device")


@router.post("/offline", response_model=OfflineSessionOut, responses=COMMAND_RESPONSES,
             summary="同步离线服务记录 Sync a record typed offline",
             description="党员手机离线时填写并以手机密钥签名的服务记录，联网后逐条同步：服务端核对手机密钥（本人登记且未吊销）"
                         "与签名，再按在线记录的全部规则核对；补录判定按填写当天计算；同一 session_id 重复同步返回原结果"
                         "（applied=false）。/ Re-checks the phone's key and signature and every rule of a typed record "
                         "(lateness to the day it was typed); the same session id again gets the original answer.")
def sync_offline(body: OfflineSessionIn, commands: CommandsDep) -> object:
    ledger, actor = commands.services.ledger, commands.actor
    record = body.record.model_dump()
    return commands.run(action="session.sync_offline", object_id=body.record.member, body=body,
                        present=lambda done: OfflineSessionOut(session_id=done[0], applied=done[1]),
                        call=lambda: ledger.sync_offline_session(actor=actor, record=record,
                                                                 signature=ed25519.unb64(body.signature)))


@router.get("/{session_id}", response_model=SessionOut, responses=READ_RESPONSES, summary="服务记录 A session",
            description="单位查看须经党员单独同意（unit_feedback）。/ A unit needs the member's consent.")
def read_session(session_id: UUID, actor: ActorDep, ledger: LedgerDep) -> SessionOut:
    authorize(ledger, actor, "session.read", session_id)
    return session_out(ledger.get_session(session_id))


@router.post("/{session_id}/rating", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="评价 Rate a session",
             description="服务对象（点单居民）或组织方（社区、单位）评价优/良/一般。/ By the recipient (the resident who "
                         "ordered) or the organiser (community, unit).")
def rate(session_id: UUID, body: RatingIn, commands: CommandsDep) -> object:
    return commands.run(action="session.rate", object_id=session_id, body=body, present=lambda _: DoneOut(),
                        call=lambda: commands.services.ledger.rate_session(
                            actor=commands.actor, session_id=session_id, rating=body.rating))


@router.post("/{session_id}/certification", response_model=CertifiedOut, responses=COMMAND_RESPONSES,
             summary="认证 Certify a session",
             description="社区认证签字；分钟数同时存入时间账户（同一事务）。须先评价。/ Certifies and deposits the "
                         "minutes in one transaction; the session must be rated first.")
def certify(session_id: UUID, commands: CommandsDep) -> object:
    return commands.run(action="session.certify", object_id=session_id, present=lambda m: CertifiedOut(minutes=m),
                        call=lambda: commands.services.ledger.certify_session(
                            actor=commands.actor, session_id=session_id, request_id=commands.request_id))


@router.post("/{session_id}/rejection", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="不予认证 Reject a session")
def reject(session_id: UUID, body: ReasonIn, commands: CommandsDep) -> object:
    return commands.run(action="session.reject", object_id=session_id, body=body, present=lambda _: DoneOut(),
                        call=lambda: commands.services.ledger.reject_session(
                            actor=commands.actor, session_id=session_id, reason=body.reason))


@router.post("/{session_id}/corrections", response_model=DeltaOut, responses=COMMAND_RESPONSES,
             summary="更正 Correct a session",
             description="以新事件更正，不修改、不删除原记录；已认证记录的分钟数变化同步调整账户。/ A new event that "
                         "references the original; a certified session's minute change moves the difference.")
def correct(session_id: UUID, body: CorrectionIn, commands: CommandsDep) -> object:
    return commands.run(action="session.correct", object_id=session_id, body=body,
                        present=lambda d: DeltaOut(delta_minutes=d),
                        call=lambda: commands.services.ledger.correct_session(
                            actor=commands.actor, session_id=session_id, changes=body.changes(), reason=body.reason))


@router.post("/{session_id}/complaints", response_model=DeltaOut, responses=COMMAND_RESPONSES,
             summary="投诉属实 Uphold a complaint",
             description="该次服务分钟数归零并从账户扣回。/ Zeroes the session and takes back what was credited.")
def uphold_complaint(session_id: UUID, body: ReasonIn, commands: CommandsDep) -> object:
    return commands.run(action="session.uphold_complaint", object_id=session_id, body=body,
                        present=lambda m: DeltaOut(delta_minutes=-m),
                        call=lambda: commands.services.ledger.uphold_complaint(
                            actor=commands.actor, session_id=session_id, reason=body.reason))
