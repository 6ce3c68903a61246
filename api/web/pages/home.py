"""首页、登录、语言切换、报表（附件3/4/5 等，HTML 可打印，PDF/XLSX/CSV 下载）、全区概况。"""

from __future__ import annotations

import functools
import urllib.parse
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import SignInBusy, TooManyAttempts
from api.errors import http_status_of
from api.routers import reports as api_reports
from api.web import core
from api.web.present import report_view
from ledger.domain.errors import InvalidInput
from ledger.domain.values import Role

router = APIRouter(route_class=core.WebRoute, include_in_schema=False)

ROLE_CARDS = [
    ("/counter", "爱心超市收银台", "扫码或输入党员编号，查看可用时长，兑换商品，打印小票。", Role.COUNTER),
    ("/community", "社区工作台", "报到登记与回执、认证待办、补录记录、服务菜单与订单、岗位与队伍、爱心超市目录、年终纪实。",
     Role.COMMUNITY),
    ("/me", "我的", "我的服务时长与余额、记录卡、星级和年度要求、二维码、服务证明下载、转移同意。", Role.MEMBER),
    ("/unit", "单位", "本单位党员报到情况、附件3统计表、年终服务纪实反馈。", Role.UNIT),
    ("/audit", "审计核验", "上传服务证明或转移包逐项核验；查看最新检查点及见证。", Role.AUDITOR),
    ("/region", "全区概况", "参与率、每月服务时长、星级分布等图表。", Role.REGION),
]
YearQuery = Annotated[int | None, Query(ge=2000, le=2100)]


@router.get("/")
def home(request: Request) -> Response:
    principal = core.principal_or_none(request)
    return core.page(request, "home.html", {"cards": ROLE_CARDS,
                                            "my_home": core.ROLE_HOME.get(principal.actor.role) if principal else None},
                     principal=principal)


@router.get("/login")
def login_form(request: Request, next: str = "") -> Response:
    return core.page(request, "login.html", {"next": core.safe_next(next, ""), "error": None},
                     principal=core.principal_or_none(request), title="登录")


@router.post("/login")
async def login(request: Request) -> Response:
    core.check_same_origin(request)
    form = await request.form(max_part_size=4096)
    username, password = str(form.get("username") or "").strip(), str(form.get("password") or "")
    target = core.safe_next(str(form.get("next") or ""), "")
    auth = core.services(request).auth
    if not username or not password or len(username) > 64 or len(password) > 256:
        return _login_failed(request, target)
    client = request.client.host if request.client is not None else None
    try:
        token, _expires_at, login = await core.in_thread(functools.partial(auth.login, username, password,
                                                                           client=client))
    except core.AuthenticationFailed:
        return _login_failed(request, target)
    except (TooManyAttempts, SignInBusy) as refused:  # throttled: say so, and when to retry
        response: Response = core.page(request, "login.html", {"next": target, "error": refused.detail},
                             status_code=http_status_of(refused), title="登录")
        response.headers.update(refused.headers)
        return response
    response = RedirectResponse(target or core.ROLE_HOME.get(login.role, "/"), status_code=303)
    response.set_cookie(core.SESSION_COOKIE, token, max_age=auth.token_ttl_seconds, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")
    return response


def _login_failed(request: Request, target: str) -> Response:
    return core.page(request, "login.html", {"next": target, "error": "用户名或密码错误。"}, status_code=401,
                     title="登录")


@router.post("/logout")
async def logout(request: Request) -> Response:
    await core.read_form(request)
    principal = core.principal_or_none(request)
    if principal is not None:
        await core.in_thread(core.services(request).auth.revoke, principal.token_sha256)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(core.SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
def switch_language(request: Request, code: Literal["zh", "en"], next: str = "/") -> Response:
    response = RedirectResponse(core.safe_next(next), status_code=303)
    response.set_cookie(core.LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response


# -- reports -------------------------------------------------------------------------------------------

REPORT_TITLES = {"slip": "附件1 报到单", "receipt": "附件1 回执单", "member-form": "附件2 登记表",
                 "unit-stats": "附件3 统计表", "register": "附件4 登记表", "card": "附件5 记录卡",
                 "feedback": "服务纪实反馈", "eligibility": "评先评优资格", "stars": "积分和星级",
                 "balances": "时间账户余额", "overview": "全区概况"}


def report_query(year: int, unit_id: UUID | None, community_id: UUID | None, member_id: UUID | None,
                 slip_id: UUID | None = None) -> str:
    values = {"year": year, "unit_id": unit_id, "community_id": community_id, "member_id": member_id,
              "slip_id": slip_id}
    return urllib.parse.urlencode({k: str(v) for k, v in values.items() if v is not None})


PERSONAL_KINDS = ("register", "card", "member-form", "slip")  # the forms that can show personal fields


@router.get("/reports/{kind}")
def report_page(request: Request, kind: api_reports.ReportKind, year: YearQuery = None, unit_id: UUID | None = None,
                community_id: UUID | None = None, member_id: UUID | None = None,
                slip_id: UUID | None = None) -> Response:
    """A report as a printable page, built by the same function as the API's file (same checks)."""
    principal = core.require_principal(request)
    ledger, services = core.ledger_of(request), core.services(request)
    document = api_reports.build_report(kind, principal.actor, ledger, services, year=year, unit_id=unit_id,
                                        community_id=community_id, member_id=member_id, slip_id=slip_id)
    year = year or api_reports.this_year()
    query = report_query(year, unit_id, community_id, member_id, slip_id)
    if kind in api_reports.SLIP_KINDS:
        personal_object: UUID | str | None = str(ledger.get_report_slip(slip_id).member_id) if slip_id else None
    else:
        personal_object = member_id or community_id
    personal = kind in PERSONAL_KINDS and personal_object is not None and (kind != "register" or community_id) \
        and kind != "receipt" and core.may(
            request, principal, "report.community_personal" if kind == "register" else "member.read_personal",
            personal_object)
    return core.page(request, "report.html", {
        "report": report_view(document), "kind": kind, "query": query, "year": year, "personal": personal,
        "back": core.ROLE_HOME.get(principal.actor.role, "/")}, principal=principal, title=REPORT_TITLES[kind])


@router.get("/reports/{kind}/file")
def report_file(request: Request, kind: api_reports.ReportKind,
                format: Literal["pdf", "xlsx", "csv", "json"] = "pdf", year: YearQuery = None,
                unit_id: UUID | None = None, community_id: UUID | None = None, member_id: UUID | None = None,
                personal: bool = False, slip_id: UUID | None = None) -> Response:
    """The file, from the API's own report endpoint function (same scope checks, same bytes)."""
    principal = core.require_principal(request)
    return api_reports.report(kind=kind, actor=principal.actor, ledger=core.ledger_of(request),
                              services=core.services(request), year=year, unit_id=unit_id,
                              community_id=community_id, member_id=member_id, format=format, personal=personal,
                              slip_id=slip_id)


@router.get("/region")
def region_overview(request: Request, year: YearQuery = None) -> Response:
    """全区概况: the overview report (participation, hours by month, by post, stars) with SVG charts."""
    from projections import reports

    principal = core.require_principal(request)
    ledger, services = core.ledger_of(request), core.services(request)
    api_reports.resolve_scope(ledger, principal.actor, api_reports.REPORT_SCOPES["overview"])
    year = year or api_reports.this_year()
    if not 2000 <= year <= 2100:
        raise InvalidInput("year: 2000 to 2100")
    with services.read_models.current() as views:
        document = reports.overview(views, year=year)
    from api.web.pages.region import TABS  # the region administrator's pages (issue #12)

    tabs = TABS if principal.actor.role is Role.REGION else None
    return core.page(request, "region.html", {"report": report_view(document), "year": year, "tabs": tabs,
                                              "query": report_query(year, None, None, None)},
                     principal=principal, title="全区概况")
