"""单位 The unit party organisation: its members' report status, 附件3, the year-end feedback
(服务纪实反馈, only for members who consented), and 有故 exemptions."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid5

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.auth import AuthenticationFailed
from api.errors import REFUSALS
from api.policy import authorize
from api.routers import members as api_members
from api.routers import report_slips as api_slips
from api.routers import reports as api_reports
from api.routers import units as api_units
from api.schemas.members import EnrolIn, ExemptionIn, ReportSlipIn
from api.schemas.offices import ReminderIn
from api.schemas.organisations import DeclaredMembersIn
from api.web import core, i18n
from api.web.pages.home import report_query
from ledger.domain import warnings
from ledger.domain.errors import InvalidInput
from ledger.domain.limits import NAME_CHARS_MAX, NOTE_CHARS_MAX, REASON_CHARS_MAX
from ledger.domain.values import PartyStatus, Role

router = APIRouter(route_class=core.WebRoute, include_in_schema=False)
SLIPS_SHOWN = 200  # the latest report slips on the unit page
ENROL_NAMESPACE = UUID("6c1e0c2a-58a4-4f0e-9a57-2b0f6b3c1d12")  # member ids from the enrol form's one-time id


def _me(request: Request) -> tuple[Any, UUID]:
    principal = core.require_principal(request, Role.UNIT)
    return principal, principal.actor.actor_id


@router.get("/unit")
def unit_page(request: Request, year: int | None = None) -> Response:
    principal, me = _me(request)
    return core.page(request, "unit.html", _unit_context(request, principal, me, year), principal=principal,
                     title="单位")


def _unit_context(request: Request, principal: Any, me: UUID, year: int | None) -> dict[str, Any]:
    from projections import queries as q

    ledger = core.ledger_of(request)
    unit = api_units.read_unit(me, principal.actor, ledger)
    year = year or api_reports.this_year()
    if not 2000 <= year <= 2100:
        raise InvalidInput("year: 2000 to 2100")
    authorize(ledger, principal.actor, "report.unit", me)
    with core.services(request).read_models.current() as views:
        years = q.member_years(views, year=year, unit_id=str(me))
        stats = q.unit_stats(views, year=year, unit_id=str(me), years=years)
        slips = _issued_slips(views, str(me))
        communities = q.communities(views)
    stats_row = stats[0] if stats else None
    lang = core.lang_of(request)
    warnings = [_warning_text(w, lang) for w in (stats_row.warnings if stats_row else [])]
    counts = {"enrolled": len(years), "reported": sum(1 for y in years if y.reported),
              "exempt": sum(1 for y in years if y.exemption is not None),
              "missing": sum(1 for y in years if y.missing),
              "not_enrolled": max(0, unit.declared_members - len(years))}
    return {
        "unit": unit, "year": year, "years": years, "stats": stats_row, "counts": counts, "warnings": warnings,
        "slips": slips, "communities": communities, "party_statuses": [s.value for s in PartyStatus],
        "unreported": [y for y in years if not y.reported and y.member.closed_on is None],
        "chase": _chase_rows(years, slips), "enrol": {"values": {}, "errors": {}},
        "query": report_query(year, me, None, None)}


def _chase_rows(years: list[Any], slips: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Members still to report (not reported, no 有故, not moved away), each with their latest slip."""
    latest: dict[str, dict[str, Any]] = {}
    for slip in slips:  # latest first
        latest.setdefault(slip["member_id"], slip)
    rows = []
    for y in years:
        if y.reported or y.exemption is not None or y.member.closed_on is not None:
            continue
        rows.append({"member_id": y.member.member_id, "name": y.member.name, "job_title": y.member.job_title,
                     "party_status": y.member.party_status, "slip": latest.get(y.member.member_id)})
    return sorted(rows, key=lambda r: (r["slip"] is not None, str(r["slip"]["issued_on"]) if r["slip"] else "",
                                       r["name"]))


@router.get("/unit/chase")
def chase_list(request: Request, year: int | None = None) -> Response:
    """催报名单: who has not reported yet, to print and work through (with the slip to hand over again)."""
    principal, me = _me(request)
    context = _unit_context(request, principal, me, year)
    ledger = core.ledger_of(request)
    for row in context["chase"]:  # the reminders recorded on each slip (slip.read: the unit's own)
        slip = row["slip"]
        row["reminders"] = list(ledger.get_report_slip(UUID(str(slip["slip_id"]))).reminders) if slip else []
    return core.page(request, "unit/chase.html", context, principal=principal, title="催报名单")


@router.post("/unit/reminders")
async def remind(request: Request) -> Response:
    """催报: record that the member was reminded (how, in the note); back to the chase list."""
    principal, _ = _me(request)
    form = await core.read_form(request)
    slip_id = core.uuid_field(form, "slip_id")
    note = str(form.get("note") or "").strip()
    if len(note) > NOTE_CHARS_MAX:
        return core.redirect("/unit/chase", kind="error", text=core.translator(core.lang_of(request))(
            "催报说明最多 {n} 字").format(n=NOTE_CHARS_MAX))

    def run() -> None:
        api_slips.remind(slip_id, ReminderIn(note=note), core.commands_for(
            request, principal, path=f"/v1/report-slips/{slip_id}/reminders", idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/unit/chase", ok="已记录催报")


@router.post("/unit/members")
async def enrol_member(request: Request) -> Response:
    """党员入册 (and, when a community is chosen, the 报到单 at once). A form that cannot be done comes
    back with every typed value and the message next to its field; nothing is written."""
    principal, me = _me(request)
    form = await core.read_form(request)
    values = {name: str(form.get(name) or "").strip() for name in ("name", "party_status", "job_title",
                                                                   "community_id")}
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "请填写姓名"
    elif len(values["name"]) > NAME_CHARS_MAX:
        errors["name"] = f"姓名最多 {NAME_CHARS_MAX} 个字"
    if values["party_status"] not in {s.value for s in PartyStatus}:
        errors["party_status"] = "请选择正式党员或预备党员"
    if len(values["job_title"]) > NAME_CHARS_MAX:
        errors["job_title"] = f"职务最多 {NAME_CHARS_MAX} 个字"
    community_id: UUID | None = None
    if values["community_id"]:
        try:
            community_id = UUID(values["community_id"])
        except ValueError:
            errors["community_id"] = "请从列表中选择报到社区"
    lang = core.lang_of(request)
    gettext = core.translator(lang)
    if not errors:
        nonce = str(form.get("nonce") or "")
        member_id = uuid5(ENROL_NAMESPACE, f"{me}:{nonce}") if nonce else None  # a double submit: one member

        def run() -> Any:
            body = EnrolIn(name=values["name"], party_status=PartyStatus(values["party_status"]),
                           job_title=values["job_title"], member_id=member_id)
            answer: Any = api_units.enrol(body, core.commands_for(request, principal, path="/v1/members",
                                                             idempotency_key=core.form_key(form, "enrol")))
            enrolled = UUID(json.loads(bytes(answer.body))["id"])
            if community_id is None:
                return None
            slip = api_members.issue_slip(enrolled, ReportSlipIn(community_id=community_id), core.commands_for(
                request, principal, path=f"/v1/members/{enrolled}/report-slips",
                idempotency_key=core.form_key(form, "slip")))
            return _warned(slip, lang, ok=gettext("已录入并开具报到单：{name}").format(name=values["name"]))

        try:
            result = await core.in_thread(run)
        except (*REFUSALS, ValidationError) as error:
            if isinstance(error, AuthenticationFailed):
                raise
            errors["form"] = i18n.error_text(error, lang)
        else:
            ok = gettext("已录入党员 {name}").format(name=values["name"])
            if community_id is not None:
                ok = gettext("已录入并开具报到单：{name}").format(name=values["name"])
            if isinstance(result, tuple):
                return core.redirect("/unit", kind=result[0], text=result[1])
            return core.redirect("/unit", kind="ok", text=ok)
    context = _unit_context(request, principal, me, None)
    context["enrol"] = {"values": values, "errors": errors}
    return core.page(request, "unit.html", context, principal=principal, title="单位", status_code=422)


@router.post("/unit/exemptions")
async def grant_exemption(request: Request) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)
    year_text = core.field(form, "year", chars_max=4)
    if not year_text.isdigit():
        raise InvalidInput("year: four digits", field="year", reason="whole_number")
    year = int(year_text)

    def run() -> None:
        member_id = core.uuid_field(form, "member_id")
        body = ExemptionIn(reason=core.field(form, "reason", chars_max=REASON_CHARS_MAX))
        api_members.grant_exemption(member_id, year, body, core.commands_for(
            request, principal, path=f"/v1/members/{member_id}/exemptions/{year}", method="PUT",
            idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back=f"/unit?year={year}", ok="已登记有故免报到", form=form,
                              again=lambda: unit_page(request, year=year if 2000 <= year <= 2100 else None))


def _warning_text(warning: Any, lang: str) -> str:
    return warning.message_en if lang == "en" else warning.message


def _issued_slips(views: Any, unit_id: str) -> list[dict[str, Any]]:
    """The report slips this unit issued (read model), latest first, each with its warnings."""
    from projections import queries as q

    return [{"slip_id": r.slip_id, "member_id": r.member.member_id, "name": r.member.name,
             "community_name": r.community.name, "posts": r.member.posts if r.registered else (),
             "issued_on": r.issued_on, "deadline": r.deadline, "receipt_sent_on": r.receipt_sent_on, "registered": r.registered,
             "warnings": warnings.for_slip(r)} for r in q.unit_slips(views, unit_id=unit_id, limit=SLIPS_SHOWN)]


@router.post("/unit/declared-members")
async def declare_members(request: Request) -> Response:
    principal, me = _me(request)
    form = await core.read_form(request)
    lang = core.lang_of(request)

    def run() -> Any:
        count_text = core.field(form, "count", chars_max=6)
        if not count_text.isascii() or not count_text.isdigit():
            raise InvalidInput("在职党员总数须为整数 / the number of members must be a whole number", field="count",
                               reason="whole_number")
        response = api_units.declare_members(me, DeclaredMembersIn(count=int(count_text)), core.commands_for(
            request, principal, path=f"/v1/units/{me}/declared-members", method="PUT",
            idempotency_key=core.form_key(form)))
        return _warned(response, lang, ok=core.translator(lang)("已更新在职党员总数"))

    return await core.perform(request, run, back="/unit", ok="已更新在职党员总数", form=form,
                              again=lambda: unit_page(request))


@router.post("/unit/report-slips")
async def issue_slip(request: Request) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)
    lang = core.lang_of(request)

    def run() -> Any:
        member_id = core.uuid_field(form, "member_id")
        community_id = core.uuid_field(form, "community_id")
        response = api_members.issue_slip(member_id, ReportSlipIn(community_id=community_id), core.commands_for(
            request, principal, path=f"/v1/members/{member_id}/report-slips", idempotency_key=core.form_key(form)))
        return _warned(response, lang, ok=core.translator(lang)("已开具报到单"))

    return await core.perform(request, run, back="/unit", ok="已开具报到单", form=form,
                              again=lambda: unit_page(request))


def _warned(response: Any, lang: str, *, ok: str) -> Any:
    """A command's answer as the page's message: its warnings, if any, as a warning (it was done)."""
    body = json.loads(bytes(response.body))
    texts = [w["message_en"] if lang == "en" else w["message"] for w in body.get("warnings", [])]
    if not texts:
        return None
    return ("warn", " ".join([ok + ("." if lang == "en" else "。"), *texts]))
