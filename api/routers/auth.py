"""登录 Sign-in: the OAuth2 password flow, token revocation, password change, who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from api.auth import InvalidCredentials
from api.deps import AuthDep, LedgerDep, PrincipalDep, ServicesDep, oauth2_scheme
from api.errors import AUTH_RESPONSES, INVALID_REQUEST_RESPONSES, ErrorOut
from api.schemas.auth import ActivateIn, LoginOut, MeOut, PasswordChangeIn, PasswordForm, TokenInfoOut, TokenOut
from api.schemas.common import DoneOut
from ledger.domain.errors import LedgerError, NotFound
from ledger.domain.values import Role

router = APIRouter(prefix="/v1/auth", tags=["auth 登录"])


@router.post("/token", response_model=TokenOut, summary="登录取得令牌 Sign in (OAuth2 password flow)",
             responses={401: {"model": ErrorOut, "description": "用户名或密码错误 / wrong username or password"},
                        429: {"model": ErrorOut, "description": "失败次数过多，稍后再试 (Retry-After) / "
                                                                "too_many_attempts: wait Retry-After seconds"},
                        503: {"model": ErrorOut, "description": "登录繁忙 / sign_in_busy: retry in a second"},
                        **INVALID_REQUEST_RESPONSES},
             description="用户名和密码换取有时效的访问令牌。/ Exchange a username and password (form fields) for "
                         "a bearer token that expires after the configured lifetime and can be revoked.")
def issue_token(form: Annotated[PasswordForm, Depends()], auth: AuthDep, request: Request) -> TokenOut:
    if len(form.username) > 64 or len(form.password) > 256:
        raise InvalidCredentials("wrong username or password")
    client = request.client.host if request.client is not None else None
    token, expires_at, login = auth.login(form.username, form.password, client=client)
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
def me(principal: PrincipalDep, ledger: LedgerDep, auth: AuthDep,
       token: Annotated[str | None, Depends(oauth2_scheme)]) -> MeOut:
    unlocked = auth.member_key(token) if principal.actor.role is Role.MEMBER else None
    try:
        key_id: str | None = unlocked[0] if unlocked is not None else ledger.key_id_of(principal.actor)
    except LedgerError:
        key_id = None
    return MeOut(username=principal.username, actor_id=principal.actor.actor_id, role=principal.actor.role,
                 expires_at=principal.expires_at, key_id=key_id)


@router.post("/activate", status_code=201, response_model=LoginOut, summary="党员凭激活码设置本人登录 Activate a member login",
             responses={403: {"model": ErrorOut, "description": "激活码无效、已使用或已过期 / activation_code_invalid"},
                        422: {"model": ErrorOut, "description": "密码过弱 weak_password / 登录名已被使用"},
                        429: {"model": ErrorOut, "description": "失败次数过多 / too_many_attempts"}},
             description="党员用单位或社区交给本人的一次性激活码设置登录名和密码。此后党员的签名密钥只由本人密码解锁，"
                         "单位、社区和服务器均不能代为签名。/ With the one-time code from their unit or community, a "
                         "member sets their own username and password. From then on the member's signing key is "
                         "unlocked only by the member's password: nobody else can sign as the member.")
def activate(body: ActivateIn, services: ServicesDep, request: Request) -> LoginOut:
    client = request.client.host if request.client is not None else None
    login = services.member_access.activate(code=body.code, username=body.username, password=body.password,
                                            client=client)
    return LoginOut.model_validate(login, from_attributes=True)


@router.get("/logins", response_model=list[LoginOut], responses=AUTH_RESPONSES, summary="本人的登录账号 My logins",
            description="当前主体的全部登录账号 / every login of the signed-in actor.")
def my_logins(principal: PrincipalDep, auth: AuthDep) -> list[LoginOut]:
    return [LoginOut.model_validate(login, from_attributes=True)
            for login in auth.logins(actor_id=principal.actor.actor_id, limit=200)]


@router.post("/logins/{username}/disable", response_model=DoneOut,
             responses={**AUTH_RESPONSES, **INVALID_REQUEST_RESPONSES},
             summary="停用本人的登录账号 Disable one of my logins",
             description="停用并吊销其全部令牌 / disable it and revoke all its tokens.")
def disable_my_login(username: Annotated[str, Path(min_length=1, max_length=64)], principal: PrincipalDep,
                     auth: AuthDep) -> DoneOut:
    login = auth.get_login(username)
    if login.actor_id != principal.actor.actor_id:
        raise NotFound(f"login {username} not found")
    auth.set_disabled(username, True)
    return DoneOut()


@router.get("/tokens", response_model=list[TokenInfoOut], responses=AUTH_RESPONSES, summary="本人的令牌 My tokens",
            description="当前主体各登录账号签发的令牌（最近 200 个）/ tokens of the signed-in actor's logins.")
def my_tokens(principal: PrincipalDep, auth: AuthDep) -> list[TokenInfoOut]:
    return [TokenInfoOut.model_validate(info, from_attributes=True)
            for info in auth.tokens_of(principal.actor.actor_id, current_sha256=principal.token_sha256)]


@router.post("/tokens/{token_id}/revoke", response_model=DoneOut,
             responses={**AUTH_RESPONSES, **INVALID_REQUEST_RESPONSES},
             summary="吊销本人的一个令牌 Revoke one of my tokens",
             description="例如遗失的手机上的登录 / e.g. the sign-in on a lost phone.")
def revoke_my_token(token_id: Annotated[str, Path(min_length=1, max_length=64)], principal: PrincipalDep,
                    auth: AuthDep) -> DoneOut:
    auth.revoke_token_of(principal.actor.actor_id, token_id)
    return DoneOut()
