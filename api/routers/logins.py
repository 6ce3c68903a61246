"""账号 Logins: the region admin, a community or a unit opens logins for the actors it manages."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api.deps import ActorDep, AuthDep, LedgerDep
from api.errors import COMMAND_RESPONSES, READ_RESPONSES
from api.policy import authorize
from api.schemas.auth import LoginIn, LoginOut
from api.schemas.common import DoneOut

router = APIRouter(tags=["logins 账号"])


def _out(login: object) -> LoginOut:
    return LoginOut.model_validate(login, from_attributes=True)


@router.post("/v1/logins", status_code=201, response_model=LoginOut, responses=COMMAND_RESPONSES,
             summary="开设登录账号 Create a login",
             description="为本地区已有签名密钥的主体开设账号：地区管理员可为任何主体开设；社区为本社区柜台、居民和已报到党员开设；"
                         "单位为本单位党员开设。/ Create a login for an actor with a signing key: the region for "
                         "anyone, a community for its counters, residents and registered members, a unit for its "
                         "members. The role comes from the actor's key.")
def create_login(body: LoginIn, actor: ActorDep, ledger: LedgerDep, auth: AuthDep) -> LoginOut:
    authorize(ledger, actor, "login.create", body.actor_id)
    target = ledger.actor_for(body.actor_id)
    return _out(auth.create_login(username=body.username, password=body.password, actor=target))


@router.get("/v1/actors/{actor_id}/logins", response_model=list[LoginOut], responses=READ_RESPONSES,
            summary="主体的登录账号 Logins of an actor", description="按登录名排序 / ordered by username.")
def list_logins(actor_id: UUID, actor: ActorDep, ledger: LedgerDep, auth: AuthDep) -> list[LoginOut]:
    authorize(ledger, actor, "login.list", actor_id)
    return [_out(login) for login in auth.logins(actor_id=actor_id)]


def _set_disabled(username: str, disabled: bool, actor: ActorDep, ledger: LedgerDep, auth: AuthDep) -> DoneOut:
    login = auth.get_login(username)
    authorize(ledger, actor, "login.disable" if disabled else "login.enable", login.actor_id)
    auth.set_disabled(username, disabled)
    return DoneOut()


@router.post("/v1/logins/{username}/disable", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="停用账号 Disable a login", description="停用并吊销其全部令牌 / disable it and revoke all its tokens.")
def disable_login(username: str, actor: ActorDep, ledger: LedgerDep, auth: AuthDep) -> DoneOut:
    return _set_disabled(username, True, actor, ledger, auth)


@router.post("/v1/logins/{username}/enable", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="启用账号 Enable a login")
def enable_login(username: str, actor: ActorDep, ledger: LedgerDep, auth: AuthDep) -> DoneOut:
    return _set_disabled(username, False, actor, ledger, auth)

