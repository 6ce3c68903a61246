"""社区工作台 The community office: registrations and receipts, the certification queue (rate and
certify or reject in bulk), late records, the service menu and orders (三单制), posts and teams, the
爱心超市 catalogue, the year's record and suggestions, and the printable 附件4 / 附件5.

Every list comes from the API's list functions or the projections' queries, authorised with the
`report.community` row; every change goes through the API router function of that command (and so
through `authorize`, the idempotency store and the group-commit writer).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.errors import REFUSALS
from api.policy import authorize
from api.routers import communities as api_communities
from api.routers import members as api_members
from api.routers import orders as api_orders
from api.routers import report_slips as api_slips
from api.routers import reports as api_reports
from api.routers import sessions as api_sessions
from api.routers import suggestions as api_suggestions
from api.schemas.members import PersonalIn, ProfileIn, RegistrationIn, TeamJoinIn
from api.schemas.organisations import CatalogueItemIn, MenuItemIn, PostIn, PriceIn, TeamIn
from api.schemas.service import AdoptIn, DispatchIn, ForwardIn, RatingIn, ReasonIn
from api.web import core
from api.web.pages.home import report_query
from api.web.pages.resident import cancelling
from ledger.domain.errors import InvalidInput, LedgerError
from ledger.domain.limits import (
    AGENCY_CHARS_MAX,
    NAME_CHARS_MAX,
    NOTE_CHARS_MAX,
    PROFILE_FIELD_CHARS_MAX,
    REASON_CHARS_MAX,
)
from ledger.domain.values import Rating, Role, TeamKind

if TYPE_CHECKING:
    from projections.queries import SessionFilter

router = APIRouter(route_class=core.WebRoute, include_in_schema=False)
BULK_MAX = 100  # sessions decided in one submit: one page of the queue
LIST_MAX = 200  # rows shown on one page (the API's page size limit)
PROFILE_FIELDS = [("sex", "性别"), ("education", "文化程度"), ("party_joined", "入党时间"), ("specialities", "特长"),
                  ("hobbies", "爱好"), ("available_time", "可服务时间")]
PERSONAL_FIELDS = [("ethnicity", "民族"), ("birth_month", "出生年月"), ("health", "健康状况"),
                   ("mobile", "本人手机"), ("unit_phone", "单位电话"), ("unit_address", "单位地址"),
                   ("home_address", "家庭住址")]
TABS = [("/community", "概览"), ("/community/queue", "认证待办"), ("/community/late", "补录记录"),
        ("/community/registrations", "报到登记与回执"), ("/community/members", "报到党员"),
        ("/community/menu", "服务菜单与订单"), ("/community/posts", "岗位与队伍"),
        ("/community/catalogue", "爱心超市目录"), ("/community/year", "年终纪实与建议"),
        ("/community/logins", "党员登录"), ("/community/import", "导入纸质记录"), ("/community/activities", "活动签到")]


def _me(request: Request) -> tuple[Any, UUID]:
    principal = core.require_principal(request, Role.COMMUNITY)
    return principal, principal.actor.actor_id


def _page(request: Request, principal: Any, template: str, title: str, context: dict[str, Any]) -> Response:
    return core.page(request, template, {"tabs": TABS, **context}, principal=principal, title=title)


def _sessions(request: Request, principal: Any, **filters: Any) -> Any:
    return api_reports.list_sessions(actor=principal.actor, ledger=core.ledger_of(request),
                                     services=core.services(request), year=filters.get("year"),
                                     community_id=principal.actor.actor_id, member_id=None,
                                     status=filters.get("status"), late=filters.get("late"), offset=0, limit=LIST_MAX)


def _members(request: Request, principal: Any, year: int | None = None) -> Any:
    return api_reports.list_members(actor=principal.actor, ledger=core.ledger_of(request),
                                    services=core.services(request), year=year, unit_id=None,
                                    community_id=principal.actor.actor_id, offset=0, limit=LIST_MAX)


def _community(request: Request, principal: Any) -> Any:
    ledger = core.ledger_of(request)
    return api_communities.read_community(principal.actor.actor_id, principal.actor, ledger)


def _slips(request: Request, principal: Any) -> list[dict[str, Any]]:
    """Report slips addressed to this community (read model), with what the policy lets it see:
    the unit for every slip, the member's name only once the member registered here."""
    from projections import queries as q

    ledger = core.ledger_of(request)
    authorize(ledger, principal.actor, "report.community", principal.actor.actor_id)
    me = str(principal.actor.actor_id)
    with core.services(request).read_models.current() as views:
        rows = q.community_slips(views, community_id=me, limit=LIST_MAX)
    result = []
    for row in rows:
        registered_here = row.member_community == me
        result.append({"slip_id": row.slip_id, "member_id": row.member_id, "unit_name": row.unit_name or "",
                       "issued_on": row.issued_on, "deadline": row.deadline, "receipt_sent_on": row.receipt_sent_on,
                       "registered": registered_here, "reported_on": row.reported_on if registered_here else None,
                       "name": row.name if registered_here else None})
    return result


def _offline(request: Request, principal: Any) -> dict[str, Any]:
    """离线兑换 (issue #15): what this community's counter devices redeemed offline and synced later,
    and the redemptions the member's balance no longer covered (the rest owed: double spending)."""
    from projections import queries as q

    ledger = core.ledger_of(request)
    authorize(ledger, principal.actor, "report.community", principal.actor.actor_id)
    me = str(principal.actor.actor_id)
    with core.services(request).read_models.current() as views:
        return {"exposure": q.offline_exposure(views, community_id=me),
                "shortfalls": q.offline_shortfalls(views, community_id=me, limit=LIST_MAX)}


# -- overview ----------------------------------------------------------------------------------------------

@router.get("/community")
def overview(request: Request) -> Response:
    principal, _ = _me(request)
    community = _community(request, principal)
    queue = _sessions(request, principal, status="recorded")
    late = _sessions(request, principal, late=True)
    slips = _slips(request, principal)
    members = _members(request, principal)
    counts = {"queue": queue.page.total or 0, "late": late.page.total or 0,
              "pending": sum(1 for s in slips if not s.get("registered")),
              "receipts": sum(1 for s in slips if s.get("registered") and not s.get("receipt_sent_on")),
              "members": members.page.total or 0, "posts": sum(1 for p in community.posts if not p.retired),
              "catalogue": sum(1 for c in community.catalogue if not c.delisted)}
    return _page(request, principal, "community/overview.html", "社区工作台",
                 {"community": community, "counts": counts, "year": api_reports.this_year(),
                  "offline": _offline(request, principal)})


# -- certification queue ---------------------------------------------------------------------------------------

YEAR_PAGE = 40  # members on one page of the year table (the whole table was ~4,700 px tall)
QUEUE_PAGE = 50  # sessions on one page of the queue (and of the late list); BULK_MAX bounds one decision
LATE_MAX = 2000  # late records sorted in one go (a community's late records in a year are far fewer)
RATING_FILTERS = [("", "全部评价"), ("none", "未评价"), ("优", "优"), ("良", "良"), ("一般", "一般")]
LATE_ORDERS = [("late", "按逾期天数（最晚录入的在前）"), ("date", "按服务日期（最近的在前）")]
FILTER_NAME_CHARS_MAX = 20


def _filter_of(params: Any, posts: dict[str, str]) -> tuple[SessionFilter, dict[str, str], dict[str, str]]:
    """The filters typed into the queue (query string): the filter, the values as typed (to show them
    again) and a Chinese message per field that is wrong (that field is then ignored)."""
    from projections.queries import SessionFilter

    typed = {name: str(params.get(name) or "").strip()[:40] for name in ("from", "to", "post", "rating", "name",
                                                                         "order", "page")}
    errors: dict[str, str] = {}
    dates: dict[str, date | None] = {"from": None, "to": None}
    for end in ("from", "to"):
        if typed[end]:
            try:
                dates[end] = date.fromisoformat(typed[end])
            except ValueError:
                errors[end] = "日期格式为 年-月-日，如 2026-05-01"
    if dates["from"] and dates["to"] and dates["from"] > dates["to"]:
        errors["to"] = "结束日期不能早于开始日期"
        dates["to"] = None
    post = typed["post"] if typed["post"] in posts else None
    if typed["post"] and post is None:
        errors["post"] = "请从列表中选择岗位"
    rating = typed["rating"] if typed["rating"] in {value for value, _ in RATING_FILTERS if value} else None
    if typed["rating"] and rating is None:
        errors["rating"] = "请从列表中选择评价"
    member_name = typed["name"][:FILTER_NAME_CHARS_MAX] or None
    chosen = SessionFilter(date_from=dates["from"], date_to=dates["to"], post_id=post, rating=rating,
                           name=member_name)
    return chosen, typed, errors


def _page_number(typed: dict[str, str]) -> int:
    text = typed.get("page", "")
    return int(text) if text.isascii() and text.isdigit() and 0 < int(text) <= 10_000 else 1


def _session_rows(rows: list[Any], posts: dict[str, str]) -> list[dict[str, Any]]:
    return [{"session_id": r.session_id, "member_name": r.member_name or "", "service_date": r.service_date,
             "start_time": r.start_time, "end_time": r.end_time, "activity": r.activity, "content": r.content or "",
             "place": r.place or "", "organiser": r.organiser or "", "recipient": r.recipient or "",
             "post": posts.get(r.post_id or "", ""), "minutes": r.minutes, "recorded_on": r.recorded_on,
             "late": r.late, "late_days": _late_days(r), "status": r.status, "rating": r.rating}
            for r in rows]


def _late_days(row: Any) -> int:
    """Calendar days from the service to its recording (what the late list sorts by)."""
    try:
        return (date.fromisoformat(str(row.recorded_on)) - date.fromisoformat(str(row.service_date))).days
    except ValueError:
        return 0


def _pages(total: int, current: int, typed: dict[str, str], path: str) -> list[tuple[int, str]]:
    count = max(1, -(-total // QUEUE_PAGE))
    keep = {k: v for k, v in typed.items() if v and k != "page"}
    return [(n, f"{path}?{urlencode({**keep, 'page': n})}") for n in range(1, count + 1)]


def _session_list(request: Request, principal: Any, *, late: bool, kept: dict[str, Any] | None = None,
                  form_errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    """The queue (recorded sessions, in log order) or the late records (all states, sorted), with the
    filters, one page of rows showing what was done, and the bulk decision bar."""
    from projections import queries as q

    me = principal.actor.actor_id
    authorize(core.ledger_of(request), principal.actor, "report.community", me)
    community = _community(request, principal)
    posts = {str(p.id): p.name for p in community.posts}
    params: Any = kept.get("params", {}) if kept else request.query_params
    chosen, typed, errors = _filter_of(params, posts)
    page_number = _page_number(typed)
    order = typed["order"] if typed["order"] in {k for k, _ in LATE_ORDERS} else "late"
    with core.services(request).read_models.current() as views:
        if late:
            chosen = replace(chosen, late=True)
            total, rows = q.community_sessions(views, community_id=str(me), chosen=chosen, limit=LATE_MAX)
            rows.sort(key=(lambda r: (-_late_days(r), str(r.service_date))) if order == "late"
                      else (lambda r: (str(r.service_date), str(r.recorded_on))), reverse=order != "late")
            rows = rows[(page_number - 1) * QUEUE_PAGE:page_number * QUEUE_PAGE]
        else:
            chosen = replace(chosen, status="recorded")
            total, rows = q.community_sessions(views, community_id=str(me), chosen=chosen,
                                               offset=(page_number - 1) * QUEUE_PAGE, limit=QUEUE_PAGE)
    path = "/community/late" if late else "/community/queue"
    back = path + (f"?{urlencode({k: v for k, v in typed.items() if v})}" if any(typed.values()) else "")
    return core.page(request, "community/late.html" if late else "community/queue.html", {
        "tabs": TABS, "rows": _session_rows(rows, posts), "total": total, "ratings": [r.value for r in Rating],
        "typed": typed, "errors": errors, "order": order, "orders": LATE_ORDERS, "rating_filters": RATING_FILTERS,
        "posts": sorted(posts.items(), key=lambda item: item[1]), "pages": _pages(total, page_number, typed, path),
        "page_number": page_number, "back": back, "kept": kept or {}, "form_errors": form_errors or {},
        "filtered": any(typed[k] for k in ("from", "to", "post", "rating", "name"))},
        principal=principal, title="补录记录" if late else "认证待办", status_code=status_code)


@router.get("/community/queue")
def queue(request: Request) -> Response:
    principal, _ = _me(request)
    return _session_list(request, principal, late=False)


def _back_of(form: Any) -> str:
    target = core.safe_next(str(form.get("back") or ""), "/community/queue")
    return target if target.split("?")[0] in ("/community/queue", "/community/late") else "/community/queue"


@router.post("/community/queue")
async def decide(request: Request) -> Response:
    """Certify (rating first where chosen) or reject the ticked sessions, one command each. A form
    that cannot be done (nothing ticked, no reason for a rejection) comes back with every tick,
    rating and reason kept and the message next to the field; nothing is written."""
    principal, _ = _me(request)
    form = await core.read_form(request)
    back = _back_of(form)
    chosen = [core.parse_uuid(str(v), "session") for v in form.getlist("session")][:BULK_MAX]
    action = str(form.get("action") or "")
    reason = str(form.get("reason") or "").strip()
    ratings = {session_id: str(form.get(f"rating-{session_id}") or "") for session_id in chosen}
    lang = core.lang_of(request)
    gettext = core.translator(lang)
    form_errors: dict[str, str] = {}
    if not chosen:
        form_errors["session"] = "请先勾选记录"
    if action not in ("certify", "reject"):
        form_errors["action"] = "请点“评价并认证所选”或“不予认证所选”"
    if action == "reject" and not reason:
        form_errors["reason"] = "不予认证须填写理由（会告知党员）"
    if len(reason) > REASON_CHARS_MAX:
        form_errors["reason"] = f"理由最多 {REASON_CHARS_MAX} 字"
    if form_errors:
        query = dict(urllib.parse.parse_qsl(back.split("?", 1)[1])) if "?" in back else {}
        kept = {"params": query, "sessions": {str(c) for c in chosen}, "reason": reason,
                "ratings": {str(k): v for k, v in ratings.items()}}
        return _session_list(request, principal, late=back.startswith("/community/late"), kept=kept,
                             form_errors=form_errors, status_code=422)

    def run() -> str | tuple[str, str]:
        done, failures = 0, []
        for session_id in chosen:
            try:
                if action == "certify":
                    rating = ratings.get(session_id)
                    if rating:  # the queue offers a rating only for sessions nobody rated yet
                        body = RatingIn.model_validate({"rating": rating})
                        commands = core.commands_for(request, principal, path=f"/v1/sessions/{session_id}/rating",
                                                     idempotency_key=core.form_key(form, f"r:{session_id}"))
                        api_sessions.rate(session_id, body, commands)
                    commands = core.commands_for(request, principal, path=f"/v1/sessions/{session_id}/certification",
                                                 idempotency_key=core.form_key(form, f"c:{session_id}"))
                    api_sessions.certify(session_id, commands)
                else:
                    commands = core.commands_for(request, principal, path=f"/v1/sessions/{session_id}/rejection",
                                                 idempotency_key=core.form_key(form, f"x:{session_id}"))
                    api_sessions.reject(session_id, ReasonIn(reason=reason), commands)
                done += 1
            except REFUSALS as error:
                from api.web.i18n import error_text

                failures.append(f"{_session_label(request, principal, session_id)}：{error_text(error, lang)}")
        template = gettext("已认证 {n} 条") if action == "certify" else gettext("已不予认证 {n} 条")
        message = template.format(n=done)
        if failures:
            message += "；" + gettext("未办理 {n} 条").format(n=len(failures)) + "：" + "；".join(failures[:10])
            if not done:
                return "error", message
        return message

    return await core.perform(request, run, back=back, ok="已办理")


def _session_label(request: Request, principal: Any, session_id: UUID) -> str:
    """A session as a person names it (member, date, activity), never by its id; "" when not readable."""
    ledger = core.ledger_of(request)
    try:
        authorize(ledger, principal.actor, "session.read", session_id)
        session = ledger.get_session(session_id)
        name = ledger.get_member(session.member_id).name
    except LedgerError:
        return "（无权查看的记录）"
    return f"{name} {session.service_date} {session.activity}"


@router.get("/community/late")
def late_records(request: Request) -> Response:
    principal, _ = _me(request)
    return _session_list(request, principal, late=True)


# -- registrations and receipts -----------------------------------------------------------------------------------

@router.get("/community/registrations")
def registrations(request: Request) -> Response:
    principal, _ = _me(request)
    return _registrations(request, principal)


def _registrations(request: Request, principal: Any, *, member_code: str = "", member_error: str = "",
                   status_code: int = 200) -> Response:
    slips = _slips(request, principal)
    return core.page(request, "community/registrations.html", {
        "tabs": TABS, "member_code": member_code, "member_error": member_error,
        "pending": [s for s in slips if not s["registered"]],
        "receipts": [s for s in slips if s["registered"] and not s["receipt_sent_on"]],
        "done": sorted((s for s in slips if s["registered"] and s["receipt_sent_on"]),
                       key=lambda s: s["receipt_sent_on"], reverse=True)[:50]},
        principal=principal, title="报到登记与回执", status_code=status_code)


MEMBER_CODE_CHARS_MAX = 40  # 32 hex digits, with dashes and spaces around


def _member_code(text: str) -> UUID | None:
    """A member code as typed (with or without dashes, any case), or None if it is not one."""
    compact = text.strip().replace("-", "").lower()
    if len(compact) != 32 or any(ch not in "0123456789abcdef" for ch in compact):
        return None
    return UUID(compact)


@router.get("/community/registrations/new")
def registration_form(request: Request, slip: str | None = None, member: str | None = None) -> Response:
    principal, _ = _me(request)
    ledger = core.ledger_of(request)
    slip_out = None
    if slip:
        slip_out = api_slips.read_slip(core.parse_uuid(slip, "slip"), principal.actor, ledger)
        member = str(slip_out.member_id)
    elif member is not None:  # typed by hand: refused in place unless it is a member's code
        typed = member[:MEMBER_CODE_CHARS_MAX]
        code = _member_code(typed)
        if code is None:
            return _registrations(request, principal, member_code=typed, status_code=422,
                                  member_error="党员编号是32位数字和字母a–f（可带短横线），请核对后重输。")
        try:
            ledger.get_member(code)
        except LedgerError:
            return _registrations(request, principal, member_code=typed, status_code=422,
                                  member_error="本地区没有这个党员编号，请核对后重输。")
        member = str(code)
    unit_name = ""
    if slip_out is not None:
        unit_name = api_reports_unit_name(request, principal, slip_out.unit_id)
    community = _community(request, principal)
    return _page(request, principal, "community/register.html", "报到登记", {
        "slip": slip_out, "member": member or "", "unit_name": unit_name,
        "posts": [p for p in community.posts if not p.retired],
        "profile_fields": PROFILE_FIELDS, "personal_fields": PERSONAL_FIELDS})


def api_reports_unit_name(request: Request, principal: Any, unit_id: UUID) -> str:
    from api.routers import units as api_units

    try:
        return api_units.read_unit(unit_id, principal.actor, core.ledger_of(request)).name
    except LedgerError:
        return ""


@router.post("/community/registrations/new")
async def register(request: Request) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)
    slip_text = core.field(form, "slip_id", required=False)

    def run() -> None:
        member_id = core.uuid_field(form, "member_id")
        body = RegistrationIn(
            post_ids=[core.parse_uuid(str(v), "post", field="post_ids") for v in form.getlist("post_id")],
            profile=ProfileIn(**{k: v for k, _ in PROFILE_FIELDS
                                 if (v := core.field(form, k, required=False, chars_max=PROFILE_FIELD_CHARS_MAX))}),
            personal=PersonalIn(**{k: v for k, _ in PERSONAL_FIELDS
                                   if (v := core.field(form, k, required=False, chars_max=PROFILE_FIELD_CHARS_MAX))}),
            willing_other_service=form.get("willing_other_service") == "on",
            slip_id=core.parse_uuid(slip_text, "slip") if slip_text else None)
        commands = core.commands_for(request, principal, path=f"/v1/members/{member_id}/registration",
                                     idempotency_key=core.form_key(form))
        api_members.register(member_id, body, commands)

    member_text = core.field(form, "member_id", required=False, chars_max=64)
    return await core.perform(request, run, back="/community/registrations", ok="已报到登记；有报到单的已同时寄回执单",
                              form=form, again=lambda: registration_form(request, slip=slip_text or None,
                                                                         member=member_text or None))


@router.post("/community/receipts/{slip_id}")
async def send_receipt(request: Request, slip_id: UUID) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        commands = core.commands_for(request, principal, path=f"/v1/report-slips/{slip_id}/receipt",
                                     idempotency_key=core.form_key(form))
        api_slips.send_receipt(slip_id, commands)

    return await core.perform(request, run, back="/community/registrations", ok="已寄回执单")


@router.get("/community/members")
def members(request: Request) -> Response:
    principal, me = _me(request)
    year = api_reports.this_year()
    rows = _members(request, principal)
    community = _community(request, principal)
    return _page(request, principal, "community/members.html", "报到党员", {
        "rows": rows.items, "total": rows.page.total, "year": year, "community": community,
        "register_query": report_query(year, None, me, None)})


# -- menu and orders (三单制) ---------------------------------------------------------------------------------------

@router.get("/community/menu")
def menu(request: Request) -> Response:
    from projections import queries as q

    principal, me = _me(request)
    ledger = core.ledger_of(request)
    authorize(ledger, principal.actor, "report.community", me)
    community = _community(request, principal)
    with core.services(request).read_models.current() as views:
        orders = q.community_orders(views, community_id=str(me), limit=LIST_MAX)
    posts = {p.id: p.name for p in community.posts}
    return _page(request, principal, "community/menu.html", "服务菜单与订单", {
        "community": community, "orders": orders, "posts": posts,
        "members": _members(request, principal).items,
        "active_posts": [p for p in community.posts if not p.retired]})


@router.post("/community/menu/new")
async def publish_menu(request: Request) -> Response:
    principal, me = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        post_text = core.field(form, "post_id", required=False)
        body = MenuItemIn(title=core.field(form, "title", chars_max=NAME_CHARS_MAX),
                          post_id=core.parse_uuid(post_text, "post", field="post_id") if post_text else None)
        api_communities.publish_menu_item(me, body, core.commands_for(
            request, principal, path=f"/v1/communities/{me}/menu", idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/menu", ok="已发布服务菜单项", form=form,
                              again=lambda: menu(request))


@router.post("/community/menu/{item_id}/withdraw")
async def withdraw_menu(request: Request, item_id: UUID) -> Response:
    principal, me = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        api_communities.withdraw_menu_item(me, item_id, core.commands_for(
            request, principal, path=f"/v1/communities/{me}/menu/{item_id}/withdrawal",
            idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/menu", ok="已撤下")


@router.post("/community/orders/{order_id}/dispatch")
async def dispatch(request: Request, order_id: UUID) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        api_orders.dispatch(order_id, DispatchIn(member_id=core.uuid_field(form, "member_id")), core.commands_for(
            request, principal, path=f"/v1/orders/{order_id}/dispatch", idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/menu", ok="已派单（支部下单）", form=form,
                              again=lambda: menu(request))


@router.post("/community/orders/{order_id}/cancel")
async def cancel_order(request: Request, order_id: UUID) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)
    return await core.perform(request, cancelling(request, principal, order_id, form), back="/community/menu",
                              ok="已取消订单", form=form, again=lambda: menu(request))


# -- posts and teams ----------------------------------------------------------------------------------------------

@router.get("/community/posts")
def posts(request: Request) -> Response:
    principal, _ = _me(request)
    community = _community(request, principal)
    return _page(request, principal, "community/posts.html", "岗位与队伍", {
        "community": community, "team_kinds": [k.value for k in TeamKind],
        "members": _members(request, principal).items})


@router.post("/community/posts/new")
async def define_post(request: Request) -> Response:
    principal, me = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        post = PostIn(name=core.field(form, "name", chars_max=NAME_CHARS_MAX))
        api_communities.define_post(me, post, core.commands_for(
            request, principal, path=f"/v1/communities/{me}/posts", idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/posts", ok="已设岗", form=form,
                              again=lambda: posts(request))


@router.post("/community/posts/{post_id}/retire")
async def retire_post(request: Request, post_id: UUID) -> Response:
    principal, me = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        api_communities.retire_post(me, post_id, core.commands_for(
            request, principal, path=f"/v1/communities/{me}/posts/{post_id}/retirement",
            idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/posts", ok="已撤岗")


@router.post("/community/teams/new")
async def form_team(request: Request) -> Response:
    principal, me = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        body = TeamIn.model_validate({"name": core.field(form, "name", chars_max=NAME_CHARS_MAX),
                                      "kind": core.field(form, "kind")})
        api_communities.form_team(me, body, core.commands_for(
            request, principal, path=f"/v1/communities/{me}/teams", idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/posts", ok="已组建队伍", form=form,
                              again=lambda: posts(request))


@router.post("/community/teams/join")
async def join_team(request: Request) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        member_id = core.uuid_field(form, "member_id")
        api_members.join_team(member_id, TeamJoinIn(team_id=core.uuid_field(form, "team_id")), core.commands_for(
            request, principal, path=f"/v1/members/{member_id}/teams", idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/posts", ok="已编入队伍", form=form,
                              again=lambda: posts(request))


# -- catalogue ------------------------------------------------------------------------------------------------------

@router.get("/community/catalogue")
def catalogue(request: Request) -> Response:
    principal, _ = _me(request)
    return _page(request, principal, "community/catalogue.html", "爱心超市目录",
                 {"community": _community(request, principal)})


def _price(form: Any) -> int:
    text = core.field(form, "price_minutes", chars_max=8)
    if not text.isdigit():
        raise InvalidInput("price_minutes: whole minutes", field="price_minutes", reason="whole_minutes")
    return int(text)


@router.post("/community/catalogue/new")
async def list_item(request: Request) -> Response:
    principal, me = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        body = CatalogueItemIn(name=core.field(form, "name", chars_max=NAME_CHARS_MAX), price_minutes=_price(form))
        api_communities.list_item(me, body, core.commands_for(
            request, principal, path=f"/v1/communities/{me}/catalogue", idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/catalogue", ok="已上架", form=form,
                              again=lambda: catalogue(request))


@router.post("/community/catalogue/{item_id}/price")
async def reprice_item(request: Request, item_id: UUID) -> Response:
    principal, me = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        api_communities.reprice_item(me, item_id, PriceIn(price_minutes=_price(form)), core.commands_for(
            request, principal, path=f"/v1/communities/{me}/catalogue/{item_id}/price", method="PUT",
            idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/catalogue", ok="已调价", form=form,
                              again=lambda: catalogue(request))


@router.post("/community/catalogue/{item_id}/delist")
async def delist_item(request: Request, item_id: UUID) -> Response:
    principal, me = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        api_communities.delist_item(me, item_id, core.commands_for(
            request, principal, path=f"/v1/communities/{me}/catalogue/{item_id}/delisting",
            idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/catalogue", ok="已下架")


# -- the year: record, stars, requirements, suggestions -----------------------------------------------------------

@router.get("/community/year")
def year_view(request: Request, year: int | None = None) -> Response:
    from projections import queries as q

    principal, me = _me(request)
    ledger = core.ledger_of(request)
    year = year or api_reports.this_year()
    if not 2000 <= year <= 2100:
        raise InvalidInput("year: 2000 to 2100")
    authorize(ledger, principal.actor, "report.community", me)
    with core.services(request).read_models.current() as views:
        years = q.member_years(views, year=year, community_id=str(me))
        suggestion_rows = q.community_suggestions(views, community_id=str(me), year=year, limit=LIST_MAX)
    suggestions = []
    for row in suggestion_rows:
        suggestion = api_suggestions.read_suggestion(UUID(row.suggestion_id), principal.actor, ledger)
        suggestions.append({"id": row.suggestion_id, "name": row.name or "", "content": suggestion.content,
                            "submitted_on": suggestion.submitted_on, "status": suggestion.status,
                            "note": suggestion.outcome_note})
    units = sorted({y.member.unit_name for y in years if y.member.unit_name})
    unit_name = request.query_params.get("unit", "")
    shown = [y for y in years if not unit_name or y.member.unit_name == unit_name]
    typed = {"year": str(year), "unit": unit_name if unit_name in units else "",
             "page": request.query_params.get("page", "")}
    page_number = _page_number(typed)
    page_count = max(1, -(-len(shown) // YEAR_PAGE))
    page_number = min(page_number, page_count)
    return _page(request, principal, "community/year.html", "年终纪实与建议", {
        "years": shown[(page_number - 1) * YEAR_PAGE:page_number * YEAR_PAGE], "members_total": len(shown),
        "year": year, "units": units, "unit_chosen": typed["unit"], "page_number": page_number,
        "pages": [(n, "/community/year?" + urlencode({k: v for k, v in {**typed, "page": str(n)}.items() if v}))
                  for n in range(1, page_count + 1)],
        "suggestions": suggestions, "query": report_query(year, None, me, None)})


@router.post("/community/suggestions/{suggestion_id}/adopt")
async def adopt(request: Request, suggestion_id: UUID) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        note = AdoptIn(note=core.field(form, "note", required=False, chars_max=NOTE_CHARS_MAX))
        api_suggestions.adopt(suggestion_id, note,
                              core.commands_for(request, principal, path=f"/v1/suggestions/{suggestion_id}/adoption",
                                                idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/year", ok="已采纳", form=form,
                              again=lambda: year_view(request))


@router.post("/community/suggestions/{suggestion_id}/forward")
async def forward(request: Request, suggestion_id: UUID) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        api_suggestions.forward(suggestion_id, ForwardIn(agency=core.field(form, "agency", chars_max=AGENCY_CHARS_MAX)),
                                core.commands_for(request, principal,
                                                  path=f"/v1/suggestions/{suggestion_id}/forwarding",
                                                  idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/year", ok="已交转有关机构办理", form=form,
                              again=lambda: year_view(request))
