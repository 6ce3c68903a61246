"""FastAPI dependencies, as `Annotated` aliases: LedgerDep, PrincipalDep, ActorDep, CommandsDep.

The dependencies are `async def` although the routes are sync `def`: they only read request state
and the token cache (a database look-up only when a token is first seen or its cache entry expired,
a sub-millisecond primary-key read). FastAPI would otherwise hop to the thread pool and back once per
sync dependency. For the same reason `CommandsDep` reads its headers from the request itself instead
of declaring five `Header()` parameters (measured: dependency solving was a third of a command's
cost in the event loop); the headers are documented on every command by `api.main.command_headers`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from api.auth import AuthenticationFailed, AuthService, Principal
from api.commands import Commands, parse_signing
from api.services import Services
from api.services import services_of as services_of_app
from ledger.application import Actor, Ledger
from ledger.domain.values import Role

TOKEN_URL = "/v1/auth/token"
oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL, auto_error=False, scheme_name="OAuth2PasswordBearer",
    description="用户名和密码换取访问令牌 / exchange a username and password for a bearer token")

IDEMPOTENCY_HEADER = "Idempotency-Key"
KEY_ID_HEADER = "Timeledger-Key-Id"
PREPARE_HEADER = "Timeledger-Prepare"
SIGNED_AT_HEADER = "Timeledger-Signed-At"
SIGNATURES_HEADER = "Timeledger-Signatures"


def services_of(request: Request) -> Services:
    return services_of_app(request.app)


async def get_services(request: Request) -> Services:
    return services_of(request)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_ledger(request: Request) -> Ledger:
    return services_of(request).ledger


async def get_auth(request: Request) -> AuthService:
    return services_of(request).auth


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
AuthDep = Annotated[AuthService, Depends(get_auth)]


async def get_principal(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    if not token:
        raise AuthenticationFailed("sign in first: Authorization: Bearer <token> (POST /v1/auth/token)")
    return services_of(request).auth.resolve(token)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_actor(principal: PrincipalDep) -> Actor:
    return principal.actor


ActorDep = Annotated[Actor, Depends(get_actor)]


async def get_commands(request: Request, principal: PrincipalDep,
                       token: Annotated[str | None, Depends(oauth2_scheme)]) -> Commands:
    headers = request.headers
    services = services_of(request)
    member_key = services.auth.member_key(token) if principal.actor.role is Role.MEMBER else None
    return Commands(services, principal.actor, method=request.method, path=request.url.path,
                    idempotency_key=headers.get(IDEMPOTENCY_HEADER),
                    signing=parse_signing(headers.get(KEY_ID_HEADER), headers.get(PREPARE_HEADER),
                                          headers.get(SIGNED_AT_HEADER), headers.get(SIGNATURES_HEADER)),
                    member_key=member_key)


CommandsDep = Annotated[Commands, Depends(get_commands)]
