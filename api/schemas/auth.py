"""Sign-in, tokens and logins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import Form
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from api.schemas.common import StrictIn
from ledger.domain.values import Role

USERNAME_CHARS_MAX = 64
PASSWORD_CHARS_MAX = 256
FORM_TEXT_CHARS_MAX = 256  # scope, client_id, client_secret: unused, but bounded like every input


class PasswordForm(OAuth2PasswordRequestForm):
    """The OAuth2 password form with every field bounded (the documented schema says so, and fuzzing
    reaches the edges)."""

    def __init__(self, *,
                 grant_type: Annotated[str | None, Form(pattern="^password$", max_length=8)] = None,
                 username: Annotated[str, Form(min_length=1, max_length=USERNAME_CHARS_MAX)],
                 password: Annotated[str, Form(min_length=1, max_length=PASSWORD_CHARS_MAX,
                                               json_schema_extra={"format": "password"})],
                 scope: Annotated[str, Form(max_length=FORM_TEXT_CHARS_MAX)] = "",
                 client_id: Annotated[str | None, Form(max_length=FORM_TEXT_CHARS_MAX)] = None,
                 client_secret: Annotated[str | None, Form(max_length=FORM_TEXT_CHARS_MAX,
                                                           json_schema_extra={"format": "password"})] = None) -> None:
        super().__init__(grant_type=grant_type, username=username, password=password, scope=scope,
                         client_id=client_id, client_secret=client_secret)


class TokenOut(BaseModel):
    """访问令牌 / a bearer token (OAuth2 password flow)."""

    access_token: str = Field(description="放入 Authorization: Bearer … / send as Authorization: Bearer …")
    token_type: str = Field("bearer", examples=["bearer"])
    expires_in: int = Field(description="有效秒数 / seconds until it expires", examples=[28800])
    expires_at: datetime
    actor_id: UUID = Field(description="登录代表的主体 / the ledger actor this login acts for")
    role: Role


class MeOut(BaseModel):
    """当前登录 / who is signed in."""

    username: str
    actor_id: UUID
    role: Role
    expires_at: datetime
    key_id: str | None = Field(None, description="签名密钥（党员：本人密码解锁的密钥）/ the signing key (a member's: "
                                                 "the one their own sign-in unlocked)")


class PasswordChangeIn(StrictIn):
    """修改密码：会吊销该账号的全部令牌 / change the password; every token of the login is revoked."""

    old_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


class LoginIn(StrictIn):
    """开设登录账号 / create a login for an actor that has a signing key in this region."""

    username: str = Field(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$",
                          description="登录名（小写字母数字）/ login name", examples=["counter-zixin-01"])
    password: str = Field(min_length=8, max_length=256, description="初始密码 / initial password")
    actor_id: UUID = Field(description="该账号代表的主体 / the actor the login acts for")


class LoginOut(BaseModel):
    """登录账号 / a login (never its password)."""

    username: str
    actor_id: UUID
    role: Role
    disabled: bool
    created_at: datetime


class ActivationIn(StrictIn):
    """签发激活码 / issue a member's one-time activation code."""

    reason: str | None = Field(None, max_length=200, description="理由（地区管理员重置时必填）/ reason (required "
                                                                 "for a reset by the region admin)")


class ActivationOut(BaseModel):
    """激活码只显示这一次，请交给党员本人 / the code is shown once: hand it to the member."""

    member_id: UUID
    code: str = Field(description="一次性激活码 / one-time activation code")
    expires_at: datetime


class ActivateIn(StrictIn):
    """党员凭激活码设置本人登录 / the member sets up their own login with the activation code."""

    code: str = Field(min_length=1, max_length=128)
    username: str = Field(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$",
                          description="登录名（小写字母数字）/ login name")
    password: str = Field(min_length=8, max_length=256, description="本人设置的密码 / the member's own password")


class TokenInfoOut(BaseModel):
    """本人的令牌（不含令牌本身）/ one of your tokens (never the token itself)."""

    token_id: str = Field(description="令牌编号（SHA-256 前缀）/ id: a prefix of the token's SHA-256")
    username: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    current: bool = Field(description="本次请求所用令牌 / the token of this request")
