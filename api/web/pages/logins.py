"""党员登录：激活码 Members' logins on the web pages.

A unit or community never sets a member's password (issue #10, defect 2). From its list of members
it issues a one-time **activation code** for a member who has no login yet; the page shows the code
once (never cached, never stored in clear: `api.member_access`) to print or read out to the member.
The member opens `/activate`, types the code, chooses a username and a password, and is signed in:
from then on the member's signing key is unlocked by the member's password alone.

The same rules as the JSON API apply, because the same functions run: `login.activate` in the
policy table decides who may issue a code for whom, and `MemberAccess` refuses a code for a member
who already has a login (only the member, or the region admin with a reason, can change that).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import SignInBusy, TooManyAttempts
from api.member_access import ACTIVATION_TTL
from api.policy import authorize
from api.routers import logins as api_logins
from api.routers import reports as api_reports
from api.schemas.auth import ActivationIn
from api.web import core, i18n
from ledger.domain.errors import LedgerError
from ledger.domain.values import CHINA_TIME, Role

router = APIRouter(route_class=core.WebRoute, include_in_schema=False)
LIST_MAX = 200
CODE_CHARS_MAX = 128
USERNAME_CHARS_MAX = 64
PASSWORD_CHARS_MAX = 256
HOME = {Role.COMMUNITY: "/community/logins", Role.UNIT: "/unit/logins"}


# -- the unit's and the community's list: who has a login, a code for who has none --------------------------

def _members(request: Request, principal: Any) -> list[dict[str, Any]]:
    actor = principal.actor
    scope = {"unit_id": actor.actor_id, "community_id": None} if actor.role is Role.UNIT else \
        {"unit_id": None, "community_id": actor.actor_id}
    rows = api_reports.list_members(actor=actor, ledger=core.ledger_of(request), services=core.services(request),
                                    year=None, offset=0, limit=LIST_MAX, **scope)
    with_login = core.services(request).auth.actors_with_login()
    return [{"member_id": row.member_id, "name": row.name, "unit_name": row.unit_name,
             "community_name": row.community_name, "has_login": row.member_id in with_login} for row in rows.items]


def _logins_page(request: Request, role: Role) -> Response:
    principal = core.require_principal(request, role)
    rows = _members(request, principal)
    from api.web.pages.community import TABS

    return core.page(request, "logins.html", {"rows": rows, "action_base": HOME[role].rsplit("/", 1)[0],
                                              "without": sum(1 for r in rows if not r["has_login"]),
                                              "tabs": TABS if role is Role.COMMUNITY else None,
                                              "ttl_hours": int(ACTIVATION_TTL.total_seconds() // 3600)},
                     principal=principal, title="党员登录")


@router.get("/community/logins")
def community_logins(request: Request) -> Response:
    return _logins_page(request, Role.COMMUNITY)


@router.get("/unit/logins")
def unit_logins(request: Request) -> Response:
    return _logins_page(request, Role.UNIT)


async def _issue(request: Request, role: Role, member_id: UUID) -> Response:
    principal = core.require_principal(request, role)
    await core.read_form(request)
    services = core.services(request)
    ledger = core.ledger_of(request)
    try:
        out = await core.in_thread(api_logins.issue_activation_code, member_id, ActivationIn(), principal.actor,
                                   ledger, services)
    except LedgerError as error:
        if error.code in ("not_authenticated", "token_expired", "token_revoked", "not_permitted", "not_found"):
            raise
        return core.redirect(HOME[role], kind="error", text=i18n.error_text(error, core.lang_of(request)))
    authorize(ledger, principal.actor, "member.read", member_id)
    name = ledger.get_member(member_id).name
    response = core.page(request, "activation_code.html", {
        "name": name, "code": out.code, "expires_at": expires_text(out.expires_at), "back": HOME[role]},
        principal=principal, title="激活码")
    response.headers["Cache-Control"] = "no-store"  # shown once: not in the browser's cache or history
    return response


@router.post("/community/logins/{member_id}/activation-code")
async def community_issue(request: Request, member_id: UUID) -> Response:
    return await _issue(request, Role.COMMUNITY, member_id)


@router.post("/unit/logins/{member_id}/activation-code")
async def unit_issue(request: Request, member_id: UUID) -> Response:
    return await _issue(request, Role.UNIT, member_id)


# -- the member activates (anonymous, throttled) ------------------------------------------------------------

@router.get("/activate")
def activate_form(request: Request, code: str = "") -> Response:
    return _activate_page(request, code=code[:CODE_CHARS_MAX], username="", error=None)


def _activate_page(request: Request, *, code: str, username: str, error: str | None,
                   status_code: int = 200) -> Response:
    password_min = core.services(request).settings.password_chars_min
    return core.page(request, "activate.html", {"code": code, "username": username, "error": error,
                                                 "password_min": password_min},
                     status_code=status_code, principal=core.principal_or_none(request), title="设置本人登录")


@router.post("/activate")
async def activate(request: Request) -> Response:
    core.check_same_origin(request)
    form = await request.form(max_part_size=4096)
    code = str(form.get("code") or "").strip()
    username = str(form.get("username") or "").strip()
    password, again = str(form.get("password") or ""), str(form.get("password_again") or "")
    lang = core.lang_of(request)
    gettext = core.translator(lang)
    kept = {"code": code[:CODE_CHARS_MAX], "username": username[:USERNAME_CHARS_MAX]}  # the password is never echoed
    if not code or not username or not password:
        return _activate_page(request, **kept, error=gettext("请填写激活码、登录名和密码。"), status_code=422)
    if len(code) > CODE_CHARS_MAX or len(username) > USERNAME_CHARS_MAX or len(password) > PASSWORD_CHARS_MAX:
        return _activate_page(request, **kept, error=gettext("输入过长，请检查后重试。"), status_code=422)
    if password != again:
        return _activate_page(request, **kept, error=gettext("两次输入的密码不一致。"), status_code=422)
    services = core.services(request)
    client = request.client.host if request.client is not None else None
    try:
        await core.in_thread(functools.partial(services.member_access.activate, code=code, username=username,
                                               password=password, client=client))
        token, _expires_at, _login = await core.in_thread(functools.partial(services.auth.login, username, password,
                                                                            client=client))
    except (TooManyAttempts, SignInBusy) as refused:
        response = _activate_page(request, **kept, error=refused.detail, status_code=refused.http_status)
        response.headers.update(refused.headers)
        return response
    except LedgerError as error:
        return _activate_page(request, **kept, error=i18n.error_text(error, lang), status_code=error.http_status)
    response = core.flash(RedirectResponse("/me", status_code=303), "ok",
                          gettext("登录已设置：今后请用本人的登录名和密码登录，密码只有您本人知道。"))
    response.set_cookie(core.SESSION_COOKIE, token, max_age=services.auth.token_ttl_seconds, httponly=True,
                        samesite="lax", secure=request.url.scheme == "https", path="/")
    return response


def expires_text(moment: datetime) -> str:
    """The moment in China time, to the minute (what the member reads on the slip of paper)."""
    return f"{moment.astimezone(CHINA_TIME):%Y-%m-%d %H:%M}"
