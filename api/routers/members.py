"""党员 Members: 报到 (slips, registration), posts, teams, exemptions, consents, personal data,
balances and time-account entries."""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query

from api.deps import ActorDep, CommandsDep, LedgerDep
from api.errors import COMMAND_RESPONSES, READ_RESPONSES
from api.policy import authorize
from api.reads import ENTRIES_PAGE_MAX, account_entries, balance_before
from api.schemas.common import DoneOut, IdOut, IdWarningsOut, with_warnings
from api.schemas.members import (
    BalanceOut,
    ConsentIn,
    ConsentOut,
    EntriesOut,
    EntryOut,
    ErasureIn,
    ExemptionIn,
    IdentityOut,
    MemberOut,
    PersonalOut,
    PostClaimIn,
    PostClaimOut,
    RegistrationIn,
    ReportSlipIn,
    TeamJoinIn,
)
from api.schemas.service import SuggestionIn
from ledger.application import Actor, Ledger
from ledger.domain import warnings
from ledger.domain.display import duration_text
from ledger.domain.member import Member
from ledger.domain.time_account import HistoryLine, TimeAccount, account_history
from ledger.domain.values import CHINA_TIME

router = APIRouter(prefix="/v1/members", tags=["members 党员"])
Year = Annotated[int, Path(ge=2000, le=2100, examples=[2026])]


def member_out(member: Member) -> MemberOut:
    status = "moved" if member.closed else "frozen" if member.frozen_by is not None else "active"
    return MemberOut(
        id=member.id, region_code=member.region_code, unit_id=member.unit_id, community_id=member.community_id,
        party_status=member.party_status, reported_on=member.reported_on, report_late=member.report_late,
        willing_other_service=member.willing_other_service,
        posts=sorted((PostClaimOut(id=i, name=n) for i, n in member.posts.items()), key=lambda p: (p.name, str(p.id))),
        team_ids=sorted(member.teams, key=str), exempt_years=sorted(member.exemptions),
        consents=sorted((ConsentOut(consent_id=i, purpose=p, recipient=r) for i, (p, r) in member.consents.items()),
                        key=lambda c: str(c.consent_id)),
        personal_erased=member.personal_erased, status=status,
        identity=IdentityOut(name=member.name, job_title=member.job_title, profile=dict(member.profile),
                             exemption_reasons=dict(member.exemptions)))


@router.get("/{member_id}", response_model=MemberOut, responses=READ_RESPONSES, summary="党员 A member",
            description="本人、所在社区和单位、地区管理员和审计可查；个人信息（电话、地址、健康、出生年月）另见 "
                        "/personal。/ For the member, their community and unit, the region and auditors; the "
                        "personal fields are only under /personal.")
def read_member(member_id: UUID, actor: ActorDep, ledger: LedgerDep) -> MemberOut:
    authorize(ledger, actor, "member.read", member_id)
    member = ledger.get_member(member_id)
    return member_out(member)


@router.get("/{member_id}/personal", response_model=PersonalOut, responses=READ_RESPONSES,
            summary="个人信息 Personal fields",
            description="解密的个人信息（电话、地址、健康、出生年月）：仅本人、所在社区和单位。已删除则 409 "
                        "personal_data_erased。/ Decrypted personal fields: only the member, their community and unit.")
def read_personal(member_id: UUID, actor: ActorDep, ledger: LedgerDep) -> PersonalOut:
    authorize(ledger, actor, "member.read_personal", member_id)
    return PersonalOut(member_id=member_id, fields=ledger.member_personal_data(member_id))


def _account_status(account: TimeAccount) -> str:
    return "moved" if account.closed else "frozen" if account.frozen_by is not None else "open"


@router.get("/{member_id}/balance", response_model=BalanceOut, responses=READ_RESPONSES,
            summary="时间余额 Balance", description="柜台兑换前查询。/ What a counter checks before redeeming.")
def read_balance(member_id: UUID, actor: ActorDep, ledger: LedgerDep) -> BalanceOut:
    authorize(ledger, actor, "balance.read", member_id)
    account = ledger.get_account(member_id)
    return BalanceOut(member_id=member_id, balance_minutes=account.balance_minutes,
                      balance_hours=duration_text(account.balance_minutes), owed_minutes=account.owed_minutes,
                      credited_minutes_total=account.credited_minutes_total,
                      redeemed_minutes_total=account.redeemed_minutes_total,
                      clawed_back_minutes_total=account.clawed_back_minutes_total,
                      over_cap_minutes_total=account.over_cap_minutes_total,
                      status=_account_status(account))


def _entry(event: Any, line: HistoryLine) -> EntryOut:
    detail = {k: v for k, v in vars(event).items()
              if not k.startswith("_") and k not in ("originator_id", "originator_version", "originator_topic", "timestamp")}
    minutes = detail.get("minutes")
    return EntryOut(version=event.originator_version, type=type(event).__name__,
                    time=event.timestamp.astimezone(CHINA_TIME),
                    minutes=minutes if isinstance(minutes, int) else None,
                    change_minutes=line.change_minutes, balance_minutes=line.balance_minutes,
                    detail={k: (str(v) if isinstance(v, UUID) else v) for k, v in detail.items()})


@router.get("/{member_id}/account/entries", response_model=EntriesOut, responses=READ_RESPONSES,
            summary="时间账户流水 Time-account entries",
            description="按账户事件序号排序，分页用 after_version。单位须经党员单独同意（unit_feedback）。/ Ordered by "
                        "the account's event number; page with `after_version`. A unit needs the member's consent.")
def read_entries(member_id: UUID, actor: ActorDep, ledger: LedgerDep,
                 after_version: Annotated[int, Query(ge=0, le=10**9, description="从此序号之后 / after this")] = 0,
                 limit: Annotated[int, Query(ge=1, le=ENTRIES_PAGE_MAX)] = 50) -> EntriesOut:
    authorize(ledger, actor, "account.read", member_id)
    events = account_entries(ledger, member_id, after_version=after_version, limit=limit)
    lines = account_history(events, opening_balance_minutes=balance_before(ledger, member_id,
                                                                           after_version=after_version))
    entries = [_entry(e, line) for e, line in zip(events, lines, strict=True)]
    return EntriesOut(member_id=member_id, entries=entries,
                      next_after_version=entries[-1].version if len(entries) == limit else None)


# -- commands --------------------------------------------------------------------------------------

def _run(commands: CommandsDep, action: str, member_id: UUID, call: Any, body: Any = None,
         created: bool = False, alone: bool = False) -> object:
    return commands.run(action=action, object_id=member_id, body=body, call=call, alone=alone,
                        status_code=201 if created else 200,
                        present=(lambda i: IdOut(id=i)) if created else (lambda _: DoneOut()))


def _l(commands: CommandsDep) -> tuple[Ledger, Actor]:
    return commands.services.ledger, commands.actor


@router.post("/{member_id}/report-slips", status_code=201, response_model=IdWarningsOut, responses=COMMAND_RESPONSES,
             summary="开具报到单 Issue a report slip",
             description="附件1 上半部分。晚于本年度报到截止日期开具的，照常开具并在 warnings 中提示 "
                         "slip_issued_after_deadline。/ 附件1, top half. A slip issued after the year's deadline is "
                         "issued, with the warning slip_issued_after_deadline.")
def issue_slip(member_id: UUID, body: ReportSlipIn, commands: CommandsDep) -> object:
    ledger, actor = _l(commands)
    response = commands.run(action="member.issue_slip", object_id=member_id, body=body, status_code=201,
                            present=lambda i: IdWarningsOut(id=i),
                            call=lambda: ledger.issue_report_slip(actor=actor, member_id=member_id,
                                                                  community_id=body.community_id,
                                                                  request_id=commands.request_id))
    if response.status_code != 201:
        return response
    slip = ledger.get_report_slip(UUID(json.loads(bytes(response.body))["id"]))
    return with_warnings(response, warnings.for_slip(slip))


@router.post("/{member_id}/registration", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="报到登记 Register a member who reports",
             description="附件2 登记表：至少认领一个岗位；开立时间账户；有报到单时同时寄回执单。个人信息加密保存。/ "
                         "The 登记表: at least one claimed post; opens the time account; with a slip, sends the "
                         "receipt. Personal fields are sealed before signing.")
def register(member_id: UUID, body: RegistrationIn, commands: CommandsDep) -> object:
    ledger, actor = _l(commands)
    return _run(commands, "member.register", member_id, body=body,
                call=lambda: ledger.register_member(
                    actor=actor, member_id=member_id, post_ids=body.post_ids,
                    profile=body.profile.model_dump(exclude_none=True),
                    personal=body.personal.model_dump(exclude_none=True),
                    willing_other_service=body.willing_other_service, slip_id=body.slip_id,
                    request_id=commands.request_id))


@router.post("/{member_id}/posts", response_model=DoneOut, responses=COMMAND_RESPONSES, summary="认领岗位 Claim a post")
def claim_post(member_id: UUID, body: PostClaimIn, commands: CommandsDep) -> object:
    ledger, actor = _l(commands)
    return _run(commands, "member.claim_post", member_id, body=body,
                call=lambda: ledger.claim_post(actor=actor, member_id=member_id, post_id=body.post_id))


@router.delete("/{member_id}/posts/{post_id}", response_model=DoneOut, responses=COMMAND_RESPONSES,
               summary="退出岗位 Release a post", description="至少保留一个岗位。/ At least one post stays claimed.")
def release_post(member_id: UUID, post_id: UUID, commands: CommandsDep) -> object:
    ledger, actor = _l(commands)
    return _run(commands, "member.release_post", member_id,
                call=lambda: ledger.release_post(actor=actor, member_id=member_id, post_id=post_id))


@router.post("/{member_id}/teams", response_model=DoneOut, responses=COMMAND_RESPONSES, summary="编入队伍 Join a team")
def join_team(member_id: UUID, body: TeamJoinIn, commands: CommandsDep) -> object:
    ledger, actor = _l(commands)
    return _run(commands, "member.join_team", member_id, body=body,
                call=lambda: ledger.join_team(actor=actor, member_id=member_id, team_id=body.team_id))


@router.delete("/{member_id}/teams/{team_id}", response_model=DoneOut, responses=COMMAND_RESPONSES,
               summary="移出队伍 Leave a team")
def leave_team(member_id: UUID, team_id: UUID, commands: CommandsDep) -> object:
    ledger, actor = _l(commands)
    return _run(commands, "member.leave_team", member_id,
                call=lambda: ledger.leave_team(actor=actor, member_id=member_id, team_id=team_id))


@router.put("/{member_id}/exemptions/{year}", response_model=DoneOut, responses=COMMAND_RESPONSES,
            summary="有故免报到 Grant an exemption", description="单位说明原因。/ The unit gives the reason.")
def grant_exemption(member_id: UUID, year: Year, body: ExemptionIn, commands: CommandsDep) -> object:
    ledger, actor = _l(commands)
    return _run(commands, "member.grant_exemption", member_id, body=body,
                call=lambda: ledger.grant_exemption(actor=actor, member_id=member_id, year=year, reason=body.reason))


@router.delete("/{member_id}/exemptions/{year}", response_model=DoneOut, responses=COMMAND_RESPONSES,
               summary="撤销免报到 Withdraw an exemption")
def withdraw_exemption(member_id: UUID, year: Year, commands: CommandsDep) -> object:
    ledger, actor = _l(commands)
    return _run(commands, "member.withdraw_exemption", member_id,
                call=lambda: ledger.withdraw_exemption(actor=actor, member_id=member_id, year=year))


@router.post("/{member_id}/consents", status_code=201, response_model=IdOut, responses=COMMAND_RESPONSES,
             summary="单独同意 Give a consent",
             description="向单位反馈服务纪实（unit_feedback，接收方为单位编号）或转移至其他地区（transfer，接收方为地区代码）"
                         "须本人单独同意。/ Sending the record to the employer or another region needs the member's "
                         "separate consent naming the recipient.")
def give_consent(member_id: UUID, body: ConsentIn, commands: CommandsDep) -> object:
    ledger, actor = _l(commands)
    return _run(commands, "member.give_consent", member_id, body=body, created=True,
                call=lambda: ledger.give_consent(actor=actor, member_id=member_id, purpose=body.purpose,
                                                 recipient=body.recipient, consent_id=body.consent_id))


@router.delete("/{member_id}/consents/{consent_id}", response_model=DoneOut, responses=COMMAND_RESPONSES,
               summary="撤回同意 Withdraw a consent")
def withdraw_consent(member_id: UUID, consent_id: UUID, commands: CommandsDep) -> object:
    ledger, actor = _l(commands)
    return _run(commands, "member.withdraw_consent", member_id,
                call=lambda: ledger.withdraw_consent(actor=actor, member_id=member_id, consent_id=consent_id))


@router.post("/{member_id}/personal-data/erasure", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="删除个人信息 Erase personal data",
             description="销毁该党员的数据密钥（crypto-shredding）；签名的服务时长记录仍可验证。/ Destroys the member's "
                         "data key; the signed hour records stay verifiable.")
def erase_personal(member_id: UUID, body: ErasureIn, commands: CommandsDep) -> object:
    ledger, actor = _l(commands)
    return _run(commands, "member.erase_personal", member_id, body=body, alone=True,
                call=lambda: ledger.erase_personal_data(actor=actor, member_id=member_id, reason=body.reason))


@router.post("/{member_id}/suggestions", status_code=201, response_model=IdOut, responses=COMMAND_RESPONSES,
             summary="提建议 Submit a suggestion", description="每年至少一条。/ At least one a year.")
def submit_suggestion(member_id: UUID, body: SuggestionIn, commands: CommandsDep) -> object:
    ledger, actor = _l(commands)
    return _run(commands, "member.submit_suggestion", member_id, body=body, created=True,
                call=lambda: ledger.submit_suggestion(actor=actor, content=body.content,
                                                      suggestion_id=body.suggestion_id))
