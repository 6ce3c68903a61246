"""社区工作台 The community office: registrations and receipts, the certification queue (rate and
certify or reject in bulk), late records, the service menu and orders (三单制), posts and teams, the
爱心超市 catalogue, the year's record and suggestions, and the printable 附件4 / 附件5.

Every list comes from the API's list functions or the projections' queries, authorised with the
`report.community` row; every change goes through the API router function of that command (and so
through `authorize`, the idempotency store and the group-commit writer).
"""

from __future__ import annotations

from typing import Any
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
from ledger.domain.errors import InvalidInput, LedgerError
from ledger.domain.limits import (
    AGENCY_CHARS_MAX,
    NAME_CHARS_MAX,
    NOTE_CHARS_MAX,
    PROFILE_FIELD_CHARS_MAX,
    REASON_CHARS_MAX,
)
from ledger.domain.values import Rating, Role, TeamKind

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
        ("/community/logins", "党员登录"), ("/community/activities", "活动签到")]


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
                 {"community": community, "counts": counts, "year": api_reports.this_year()})


# -- certification queue ---------------------------------------------------------------------------------------

@router.get("/community/queue")
def queue(request: Request) -> Response:
    principal, _ = _me(request)
    rows = _sessions(request, principal, status="recorded")
    return _page(request, principal, "community/queue.html", "认证待办",
                 {"rows": rows.items, "total": rows.page.total, "ratings": [r.value for r in Rating]})


@router.post("/community/queue")
async def decide(request: Request) -> Response:
    """Certify (rating first where chosen) or reject the ticked sessions, one command each."""
    principal, _ = _me(request)
    form = await core.read_form(request)
    chosen = [core.parse_uuid(str(v), "session") for v in form.getlist("session")][:BULK_MAX]
    action = core.field(form, "action")
    if action not in ("certify", "reject"):
        raise InvalidInput("action: certify or reject")
    reason = core.field(form, "reason", required=action == "reject", chars_max=REASON_CHARS_MAX)
    ratings = {session_id: str(form.get(f"rating-{session_id}") or "") for session_id in chosen}
    lang = core.lang_of(request)
    gettext = core.translator(lang)

    def run() -> str | tuple[str, str]:
        if not chosen:
            return "error", gettext("请先勾选记录")
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

                failures.append(f"{str(session_id)[:8]}：{error_text(error, lang)}")
        template = gettext("已认证 {n} 条") if action == "certify" else gettext("已不予认证 {n} 条")
        message = template.format(n=done)
        if failures:
            message += "；" + gettext("未办理 {n} 条").format(n=len(failures)) + "：" + "；".join(failures[:10])
            if not done:
                return "error", message
        return message

    return await core.perform(request, run, back="/community/queue", ok="已办理")


@router.get("/community/late")
def late_records(request: Request) -> Response:
    principal, _ = _me(request)
    rows = _sessions(request, principal, late=True)
    return _page(request, principal, "community/late.html", "补录记录", {"rows": rows.items, "total": rows.page.total})


# -- registrations and receipts -----------------------------------------------------------------------------------

@router.get("/community/registrations")
def registrations(request: Request) -> Response:
    principal, _ = _me(request)
    slips = _slips(request, principal)
    return _page(request, principal, "community/registrations.html", "报到登记与回执", {
        "pending": [s for s in slips if not s["registered"]],
        "receipts": [s for s in slips if s["registered"] and not s["receipt_sent_on"]],
        "done": sorted((s for s in slips if s["registered"] and s["receipt_sent_on"]),
                       key=lambda s: s["receipt_sent_on"], reverse=True)[:50]})


@router.get("/community/registrations/new")
def registration_form(request: Request, slip: str | None = None, member: str | None = None) -> Response:
    principal, _ = _me(request)
    ledger = core.ledger_of(request)
    slip_out = None
    if slip:
        slip_out = api_slips.read_slip(core.parse_uuid(slip, "slip"), principal.actor, ledger)
        member = str(slip_out.member_id)
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
    member_id = core.uuid_field(form, "member_id")
    slip_text = core.field(form, "slip_id", required=False)

    def run() -> None:
        body = RegistrationIn(
            post_ids=[core.parse_uuid(str(v), "post") for v in form.getlist("post_id")],
            profile=ProfileIn(**{k: v for k, _ in PROFILE_FIELDS
                                 if (v := core.field(form, k, required=False, chars_max=PROFILE_FIELD_CHARS_MAX))}),
            personal=PersonalIn(**{k: v for k, _ in PERSONAL_FIELDS
                                   if (v := core.field(form, k, required=False, chars_max=PROFILE_FIELD_CHARS_MAX))}),
            willing_other_service=form.get("willing_other_service") == "on",
            slip_id=core.parse_uuid(slip_text, "slip") if slip_text else None)
        commands = core.commands_for(request, principal, path=f"/v1/members/{member_id}/registration",
                                     idempotency_key=core.form_key(form))
        api_members.register(member_id, body, commands)

    return await core.perform(request, run, back="/community/registrations", ok="已报到登记；有报到单的已同时寄回执单")


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
    post_text = core.field(form, "post_id", required=False)

    def run() -> None:
        body = MenuItemIn(title=core.field(form, "title", chars_max=NAME_CHARS_MAX),
                          post_id=core.parse_uuid(post_text, "post") if post_text else None)
        api_communities.publish_menu_item(me, body, core.commands_for(
            request, principal, path=f"/v1/communities/{me}/menu", idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/menu", ok="已发布服务菜单项")


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

    return await core.perform(request, run, back="/community/menu", ok="已派单（支部下单）")


@router.post("/community/orders/{order_id}/cancel")
async def cancel_order(request: Request, order_id: UUID) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        reason = ReasonIn(reason=core.field(form, "reason", chars_max=REASON_CHARS_MAX))
        api_orders.cancel(order_id, reason, core.commands_for(
            request, principal, path=f"/v1/orders/{order_id}/cancellation", idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/menu", ok="已取消订单")


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

    return await core.perform(request, run, back="/community/posts", ok="已设岗")


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

    return await core.perform(request, run, back="/community/posts", ok="已组建队伍")


@router.post("/community/teams/join")
async def join_team(request: Request) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)
    member_id = core.uuid_field(form, "member_id")

    def run() -> None:
        api_members.join_team(member_id, TeamJoinIn(team_id=core.uuid_field(form, "team_id")), core.commands_for(
            request, principal, path=f"/v1/members/{member_id}/teams", idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/posts", ok="已编入队伍")


# -- catalogue ------------------------------------------------------------------------------------------------------

@router.get("/community/catalogue")
def catalogue(request: Request) -> Response:
    principal, _ = _me(request)
    return _page(request, principal, "community/catalogue.html", "爱心超市目录",
                 {"community": _community(request, principal)})


def _price(form: Any) -> int:
    text = core.field(form, "price_minutes", chars_max=8)
    if not text.isdigit():
        raise InvalidInput("price_minutes: whole minutes")
    return int(text)


@router.post("/community/catalogue/new")
async def list_item(request: Request) -> Response:
    principal, me = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        body = CatalogueItemIn(name=core.field(form, "name", chars_max=NAME_CHARS_MAX), price_minutes=_price(form))
        api_communities.list_item(me, body, core.commands_for(
            request, principal, path=f"/v1/communities/{me}/catalogue", idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/catalogue", ok="已上架")


@router.post("/community/catalogue/{item_id}/price")
async def reprice_item(request: Request, item_id: UUID) -> Response:
    principal, me = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        api_communities.reprice_item(me, item_id, PriceIn(price_minutes=_price(form)), core.commands_for(
            request, principal, path=f"/v1/communities/{me}/catalogue/{item_id}/price", method="PUT",
            idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/catalogue", ok="已调价")


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
    return _page(request, principal, "community/year.html", "年终纪实与建议", {
        "years": years, "year": year, "suggestions": suggestions, "query": report_query(year, None, me, None)})


@router.post("/community/suggestions/{suggestion_id}/adopt")
async def adopt(request: Request, suggestion_id: UUID) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        note = AdoptIn(note=core.field(form, "note", required=False, chars_max=NOTE_CHARS_MAX))
        api_suggestions.adopt(suggestion_id, note,
                              core.commands_for(request, principal, path=f"/v1/suggestions/{suggestion_id}/adoption",
                                                idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/year", ok="已采纳")


@router.post("/community/suggestions/{suggestion_id}/forward")
async def forward(request: Request, suggestion_id: UUID) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        api_suggestions.forward(suggestion_id, ForwardIn(agency=core.field(form, "agency", chars_max=AGENCY_CHARS_MAX)),
                                core.commands_for(request, principal,
                                                  path=f"/v1/suggestions/{suggestion_id}/forwarding",
                                                  idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/community/year", ok="已交转有关机构办理")
