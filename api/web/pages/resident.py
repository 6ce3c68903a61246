"""居民 The resident (服务对象): the community's service menu, placing an order (居民点单) with a note,
following it through 派单 and 接单, and rating the session that served it (优/良/一般).

Phone-first. The resident's community is the one that registered them (certified their key:
`ownership.certifier_of`). Every write is the API's own command (`api.routers.orders`,
`api.routers.sessions`) run through `core.commands_for`, so it is authorised by `api.policy` and
signed with the resident's key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.errors import REFUSALS
from api.policy import authorize
from api.routers import communities as api_communities
from api.routers import orders as api_orders
from api.routers import sessions as api_sessions
from api.schemas.service import OrderIn, RatingIn, ReasonIn
from api.web import core, i18n
from ledger.application import ownership
from ledger.domain.errors import InvalidInput, NotFound
from ledger.domain.limits import NOTE_CHARS_MAX, REASON_CHARS_MAX
from ledger.domain.values import Rating, Role

router = APIRouter(route_class=core.WebRoute, include_in_schema=False)
HOME = "/resident"
ORDER_STATES = {"placed": "待派单", "dispatched": "已派给党员，待接单", "accepted": "党员已接单",
                "fulfilled": "已完成", "cancelled": "已取消"}
SERVED_STATES = {"recorded": "已服务，待社区认证", "rejected": "社区不予认证"}
RATINGS = [rating.value for rating in Rating]  # 优 良 一般


class FieldProblem(Exception):
    """A typed value a page refuses before any command runs: said next to the field, in Chinese (not a
    refusal of the ledger or the API, so no code of its own)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _me(request: Request) -> tuple[Any, UUID]:
    principal = core.require_principal(request, Role.RESIDENT)
    return principal, principal.actor.actor_id


def _community_of(request: Request, principal: Any) -> Any:
    """The community that registered this resident (its key certified theirs)."""
    ledger = core.ledger_of(request)
    community_id = ownership.certifier_of(ledger, principal.actor.actor_id)
    if community_id is None:
        raise NotFound("the resident's community is not known")
    return api_communities.read_community(community_id, principal.actor, ledger)


def order_rows(views: Any, resident_id: UUID) -> list[dict[str, Any]]:
    from projections import queries as q

    rows = q.resident_orders(views, resident_id=str(resident_id))
    for row in rows:
        row["state"] = ORDER_STATES.get(row["status"], row["status"])
        session = row["session"]
        if row["status"] == "accepted" and session is not None:  # served: the rating and certification follow
            row["state"] = SERVED_STATES.get(session["status"], row["state"])
        row["can_rate"] = bool(session and session["status"] == "recorded" and not session["rating"])
        row["can_cancel"] = row["status"] in ("placed", "dispatched", "accepted") and not session
    return rows


def _render(request: Request, principal: Any, me: UUID, *, values: dict[str, str] | None = None,
            errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    community = _community_of(request, principal)
    with core.services(request).read_models.current() as views:
        orders = order_rows(views, me)
    menu = [item for item in community.menu if not item.withdrawn]
    posts = {p.id: p.name for p in community.posts}
    return core.page(request, "resident/home.html", {
        "community": community, "menu": menu, "posts": posts, "orders": orders, "ratings": RATINGS,
        "values": values or {}, "errors": errors or {}}, principal=principal, title="居民点单",
        status_code=status_code)


@router.get("/resident")
def home(request: Request) -> Response:
    principal, me = _me(request)
    return _render(request, principal, me)


@router.post("/resident/orders")
async def place(request: Request) -> Response:
    """居民点单: a menu item and a note. A refused order comes back with the note kept and the reason
    next to the field."""
    principal, me = _me(request)
    form = await core.read_form(request)
    gettext = core.translator(core.lang_of(request))
    values = {name: (value if isinstance(value := form.get(name), str) else "") for name in ("menu_item_id", "note")}
    community = _community_of(request, principal)

    def run() -> None:
        item_text = values["menu_item_id"].strip()
        if not item_text:
            raise FieldProblem("menu_item_id", "请选择服务项目")
        try:
            item_id = UUID(item_text)
        except ValueError:
            raise FieldProblem("menu_item_id", "请选择服务项目") from None
        if not any(item.id == item_id and not item.withdrawn for item in community.menu):
            raise FieldProblem("menu_item_id", "该服务项目已撤下，请重新选择")
        note = values["note"].strip()
        if len(note) > NOTE_CHARS_MAX:
            raise FieldProblem("note", "留言过长，请删减后再提交")
        body = OrderIn(community_id=community.id, menu_item_id=item_id, note=note)
        api_orders.place(body, core.commands_for(request, principal, path="/v1/orders",
                                                 idempotency_key=core.form_key(form)))

    try:
        await core.in_thread(run)
    except FieldProblem as problem:
        return _render(request, principal, me, values=values, errors={problem.field: gettext(problem.message)},
                       status_code=422)
    except REFUSALS as error:
        return _render(request, principal, me, values=values,
                       errors={"form": i18n.error_text(error, core.lang_of(request))}, status_code=422)
    return core.redirect(HOME, kind="ok", text=gettext("已点单，社区将尽快派党员上门服务"))


@router.post("/resident/sessions/{session_id}/rating")
async def rate(request: Request, session_id: UUID) -> Response:
    """评价: the resident rates the session recorded against their order (优/良/一般)."""
    principal, _ = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        rating = core.field(form, "rating", chars_max=2)
        if rating not in RATINGS:
            raise InvalidInput("rating is 优, 良 or 一般")
        api_sessions.rate(session_id, RatingIn(rating=rating), core.commands_for(
            request, principal, path=f"/v1/sessions/{session_id}/rating", idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back=HOME, ok="感谢评价")


def cancelling(request: Request, principal: Any, order_id: UUID, form: Any) -> Callable[[], None]:
    """An order's cancellation with the reason typed: the resident's own, or the office's on the menu page."""
    def run() -> None:
        reason = ReasonIn(reason=core.field(form, "reason", chars_max=REASON_CHARS_MAX))
        api_orders.cancel(order_id, reason, core.commands_for(
            request, principal, path=f"/v1/orders/{order_id}/cancellation", idempotency_key=core.form_key(form)))

    return run


@router.post("/resident/orders/{order_id}/cancel")
async def cancel(request: Request, order_id: UUID) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)
    return await core.perform(request, cancelling(request, principal, order_id, form), back=HOME, ok="已取消订单")


# -- the community office orders on a resident's behalf (a resident who telephones or calls in) ------------------

def _office_render(request: Request, principal: Any, *, values: dict[str, str] | None = None,
                   errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    ledger = core.ledger_of(request)
    me = principal.actor.actor_id
    community = api_communities.read_community(me, principal.actor, ledger)
    authorize(ledger, principal.actor, "community.register_resident", me)  # its residents are its own
    from api.web.pages.community import TABS

    return core.page(request, "resident/office_order.html", {
        "tabs": TABS, "community": community, "menu": [item for item in community.menu if not item.withdrawn],
        "residents": ledger.residents_of(me), "values": values or {}, "errors": errors or {}},
        principal=principal, title="代居民点单", status_code=status_code)


@router.get("/community/orders/new")
def office_order_form(request: Request) -> Response:
    principal = core.require_principal(request, Role.COMMUNITY)
    return _office_render(request, principal)


@router.post("/community/orders/new")
async def office_order(request: Request) -> Response:
    """代居民点单: the office orders from its own menu for a resident it registered; signed by the
    community (the ledger checks the resident is its own)."""
    principal = core.require_principal(request, Role.COMMUNITY)
    form = await core.read_form(request)
    gettext = core.translator(core.lang_of(request))
    values = {name: (value if isinstance(value := form.get(name), str) else "")
              for name in ("resident_id", "menu_item_id", "note")}
    me = principal.actor.actor_id
    ledger = core.ledger_of(request)

    def run() -> None:
        residents = {str(resident_id) for resident_id, _ in ledger.residents_of(me)}
        if values["resident_id"].strip() not in residents:
            raise FieldProblem("resident_id", "请选择居民")
        community = api_communities.read_community(me, principal.actor, ledger)
        item_text = values["menu_item_id"].strip()
        if not any(str(item.id) == item_text and not item.withdrawn for item in community.menu):
            raise FieldProblem("menu_item_id", "请选择服务项目")
        note = values["note"].strip()
        if len(note) > NOTE_CHARS_MAX:
            raise FieldProblem("note", "留言过长，请删减后再提交")
        body = OrderIn(community_id=me, menu_item_id=UUID(item_text), note=note,
                       resident_id=UUID(values["resident_id"].strip()))
        api_orders.place(body, core.commands_for(request, principal, path="/v1/orders",
                                                 idempotency_key=core.form_key(form)))

    try:
        await core.in_thread(run)
    except FieldProblem as problem:
        return _office_render(request, principal, values=values, errors={problem.field: gettext(problem.message)},
                              status_code=422)
    except REFUSALS as error:
        return _office_render(request, principal, values=values,
                              errors={"form": i18n.error_text(error, core.lang_of(request))}, status_code=422)
    return core.redirect("/community/menu", kind="ok", text=gettext("已代居民点单，请派单"))
