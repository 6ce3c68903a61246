"""单位 The unit party organisation: its members' report status, 附件3, the year-end feedback
(服务纪实反馈, only for members who consented), and 有故 exemptions."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.policy import authorize
from api.routers import members as api_members
from api.routers import reports as api_reports
from api.routers import units as api_units
from api.schemas.members import ExemptionIn, ReportSlipIn
from api.schemas.organisations import DeclaredMembersIn
from api.web import core
from api.web.pages.home import report_query
from ledger.domain import warnings
from ledger.domain.errors import InvalidInput
from ledger.domain.limits import REASON_CHARS_MAX
from ledger.domain.values import Role

router = APIRouter(route_class=core.WebRoute, include_in_schema=False)
SLIPS_SHOWN = 200  # the latest report slips on the unit page


def _me(request: Request) -> tuple[Any, UUID]:
    principal = core.require_principal(request, Role.UNIT)
    return principal, principal.actor.actor_id


@router.get("/unit")
def unit_page(request: Request, year: int | None = None) -> Response:
    from projections import queries as q

    principal, me = _me(request)
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
              "missing": sum(1 for y in years if y.missing)}
    return core.page(request, "unit.html", {
        "unit": unit, "year": year, "years": years, "stats": stats_row, "counts": counts, "warnings": warnings,
        "slips": slips, "communities": communities,
        "unreported": [y for y in years if not y.reported and y.member.closed_on is None],
        "query": report_query(year, me, None, None)}, principal=principal, title="单位")


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

    return [{"slip_id": r.slip_id, "name": r.member.name, "community_name": r.community.name,
             "issued_on": r.issued_on, "receipt_sent_on": r.receipt_sent_on, "registered": r.registered,
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
