"""账号 Logins: the region admin, a community or a unit opens logins for the actors it manages."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path

from api.auth import MEMBER_LOGIN_REFUSED, MemberLoginRefused
from api.deps import ActorDep, AuthDep, LedgerDep, ServicesDep
from api.errors import COMMAND_RESPONSES, READ_RESPONSES
from api.policy import authorize
from api.schemas.auth import ActivationIn, ActivationOut, LoginIn, LoginOut
from ledger.domain.values import Role
from api.schemas.common import DoneOut

router = APIRouter(tags=["logins 账号"])


def _out(login: object) -> LoginOut:
    return LoginOut.model_validate(login, from_attributes=True)


@router.post("/v1/logins", status_code=201, response_model=LoginOut, responses=COMMAND_RESPONSES,
             summary="开设登录账号 Create a login",
             description="为本地区已有签名密钥的主体开设账号：地区管理员可为任何主体开设；社区为本社区柜台和居民开设；"
                         "党员的登录只能由本人凭激活码设置（见下）。/ Create a login for an actor with a signing key: "
                         "the region for anyone, a community for its counters and residents. A member's login is "
                         "set up only by the member, with an activation code (403 member_login_by_member_only). "
                         "The role comes from the actor's key.")
def create_login(body: LoginIn, actor: ActorDep, ledger: LedgerDep, auth: AuthDep) -> LoginOut:
    authorize(ledger, actor, "login.create", body.actor_id)
    target = ledger.actor_for(body.actor_id)
    if target.role is Role.MEMBER:  # members activate their own login (below); nobody sets it for them
        raise MemberLoginRefused(MEMBER_LOGIN_REFUSED)
    return _out(auth.create_login(username=body.username, password=body.password, actor=target))


@router.post("/v1/members/{member_id}/activation-codes", status_code=201, response_model=ActivationOut,
             responses=COMMAND_RESPONSES, summary="签发党员激活码 Issue a member's activation code",
             description="单位或社区为本单位/本社区尚无登录的党员签发一次性激活码（只显示一次，72 小时内有效，用后作废），"
                         "交给党员本人设置登录。地区管理员可说明理由后重置党员登录：立即停用其全部登录和令牌，并以签名事件"
                         "吊销其密钥。/ A unit or community issues a one-time code (shown once, valid 72 h, single use) "
                         "for its own member who has no login yet; the member sets up their own login with it. The "
                         "region admin may reset a member's login, giving a reason: every login and token of the "
                         "member ends at once and the member's key is revoked by a signed event.")
def issue_activation_code(member_id: UUID, body: ActivationIn, actor: ActorDep, ledger: LedgerDep,
                          services: ServicesDep) -> ActivationOut:
    authorize(ledger, actor, "login.activate", member_id)
    code, expires_at = services.member_access.issue_code(authority=actor, member_id=member_id, reason=body.reason)
    return ActivationOut(member_id=member_id, code=code, expires_at=expires_at)


@router.get("/v1/actors/{actor_id}/logins", response_model=list[LoginOut], responses=READ_RESPONSES,
            summary="主体的登录账号 Logins of an actor", description="按登录名排序 / ordered by username.")
def list_logins(actor_id: UUID, actor: ActorDep, ledger: LedgerDep, auth: AuthDep) -> list[LoginOut]:
    authorize(ledger, actor, "login.list", actor_id)
    return [_out(login) for login in auth.logins(actor_id=actor_id)]


UsernamePath = Annotated[str, Path(min_length=1, max_length=64, description="登录名 / the username")]


def _set_disabled(username: str, disabled: bool, actor: ActorDep, ledger: LedgerDep, auth: AuthDep) -> DoneOut:
    login = auth.get_login(username)
    authorize(ledger, actor, "login.disable" if disabled else "login.enable", login.actor_id)
    auth.set_disabled(username, disabled)
    return DoneOut()


@router.post("/v1/logins/{username}/disable", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="停用账号 Disable a login", description="停用并吊销其全部令牌 / disable it and revoke all its tokens.")
def disable_login(username: UsernamePath, actor: ActorDep, ledger: LedgerDep, auth: AuthDep) -> DoneOut:
    return _set_disabled(username, True, actor, ledger, auth)


@router.post("/v1/logins/{username}/enable", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="启用账号 Enable a login")
def enable_login(username: UsernamePath, actor: ActorDep, ledger: LedgerDep, auth: AuthDep) -> DoneOut:
    return _set_disabled(username, False, actor, ledger, auth)

