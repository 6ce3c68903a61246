"""FastAPI dependencies, as `Annotated` aliases: LedgerDep, PrincipalDep, ActorDep, CommandsDep.

The dependencies are `async def` although the routes are sync `def`: they only read request state
and the token cache (a database look-up only when a token is first seen or its cache entry expired,
a sub-millisecond primary-key read), and FastAPI would otherwise hop to the thread pool and back once
per sync dependency — five hops per request, measured as the largest cost of a command after the
ledger itself. Blocking work (the Ledger) stays in the sync routes and the writer thread."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import OAuth2PasswordBearer

from api.auth import AuthenticationFailed, AuthService, Principal
from api.commands import Commands, parse_signing
from api.services import Services
from ledger.application import Actor, Ledger

TOKEN_URL = "/v1/auth/token"
oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL, auto_error=False, scheme_name="OAuth2PasswordBearer",
    description="用户名和密码换取访问令牌 / exchange a username and password for a bearer token")


async def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_ledger(services: ServicesDep) -> Ledger:
    return services.ledger


async def get_auth(services: ServicesDep) -> AuthService:
    return services.auth


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
AuthDep = Annotated[AuthService, Depends(get_auth)]


async def get_principal(auth: AuthDep, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    if not token:
        raise AuthenticationFailed("sign in first: Authorization: Bearer <token> (POST /v1/auth/token)")
    return auth.resolve(token)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_actor(principal: PrincipalDep) -> Actor:
    return principal.actor


ActorDep = Annotated[Actor, Depends(get_actor)]


async def get_commands(
    request: Request,
    services: ServicesDep,
    actor: ActorDep,
    idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key", description="客户端请求编号：重试返回原结果 / client request id: a retry returns "
        "the original response; the same key with a different body is refused (409 idempotency_key_reused)",
        examples=["5c1f3e0a-8d2b-4f6e-9a7c-1b2d3e4f5a6b"])] = None,
    client_key_id: Annotated[str | None, Header(
        alias="Timeledger-Key-Id", description="客户端自持密钥编号 / id of the client-held key that signs "
        "(omit to let the service sign with your server-held key)")] = None,
    client_prepare: Annotated[str | None, Header(
        alias="Timeledger-Prepare", description="true: 只返回待签名声明，不保存 / only return the statements to sign "
        "(202); nothing is stored")] = None,
    client_signed_at: Annotated[str | None, Header(
        alias="Timeledger-Signed-At", description="prepare 返回的 signed_at / the signed_at returned by prepare")] = None,
    client_signatures: Annotated[str | None, Header(
        alias="Timeledger-Signatures", description="base64 签名，逗号分隔，按声明顺序 / base64 Ed25519 signatures, "
        "comma-separated, in statement order")] = None,
) -> Commands:
    return Commands(services, actor, method=request.method, path=request.url.path, idempotency_key=idempotency_key,
                    signing=parse_signing(client_key_id, client_prepare, client_signed_at, client_signatures))


CommandsDep = Annotated[Commands, Depends(get_commands)]
