"""登录 Sign-in: the OAuth2 password flow, token revocation, password change, who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.auth import InvalidCredentials
from api.deps import AuthDep, LedgerDep, PrincipalDep
from api.errors import AUTH_RESPONSES, INVALID_REQUEST_RESPONSES, ErrorOut
from api.schemas.auth import MeOut, PasswordChangeIn, PasswordForm, TokenOut
from api.schemas.common import DoneOut
from ledger.domain.errors import LedgerError

router = APIRouter(prefix="/v1/auth", tags=["auth 登录"])


@router.post("/token", response_model=TokenOut, summary="登录取得令牌 Sign in (OAuth2 password flow)",
             responses={401: {"model": ErrorOut, "description": "用户名或密码错误 / wrong username or password"},
                        **INVALID_REQUEST_RESPONSES},
             description="用户名和密码换取有时效的访问令牌。/ Exchange a username and password (form fields) for "
                         "a bearer token that expires after the configured lifetime and can be revoked.")
def issue_token(form: Annotated[PasswordForm, Depends()], auth: AuthDep) -> TokenOut:
    if len(form.username) > 64 or len(form.password) > 256:
        raise InvalidCredentials("wrong username or password")
    token, expires_at, login = auth.login(form.username, form.password)
    return TokenOut(access_token=token, token_type="bearer", expires_at=expires_at,
                    expires_in=auth.token_ttl_seconds, actor_id=login.actor_id, role=login.role)


@router.post("/revoke", response_model=DoneOut, responses=AUTH_RESPONSES,
             summary="注销当前令牌 Revoke the current token",
             description="立即作废本次使用的令牌。/ The token used for this request stops working at once.")
def revoke_token(principal: PrincipalDep, auth: AuthDep) -> DoneOut:
    auth.revoke(principal.token_sha256)
    return DoneOut()


@router.post("/password", response_model=DoneOut, responses={**AUTH_RESPONSES, **INVALID_REQUEST_RESPONSES},
             summary="修改密码 Change the password",
             description="修改后该账号的全部令牌作废。/ Every token of the login is revoked; sign in again.")
def change_password(body: PasswordChangeIn, principal: PrincipalDep, auth: AuthDep) -> DoneOut:
    auth.change_password(username=principal.username, old_password=body.old_password, new_password=body.new_password)
    return DoneOut()


@router.get("/me", response_model=MeOut, responses=AUTH_RESPONSES, summary="当前登录 Who am I",
            description="当前令牌代表的账号、主体和角色。/ The login, actor and role of the token.")
def me(principal: PrincipalDep, ledger: LedgerDep) -> MeOut:
    try:
        key_id: str | None = ledger.key_id_of(principal.actor)
    except LedgerError:
        key_id = None
    return MeOut(username=principal.username, actor_id=principal.actor.actor_id, role=principal.actor.role,
                 expires_at=principal.expires_at, key_id=key_id)
