"""单位 The unit party organisation: its members' report status, 附件3, the year-end feedback
(服务纪实反馈, only for members who consented), and 有故 exemptions."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.policy import authorize
from api.routers import members as api_members
from api.routers import reports as api_reports
from api.routers import units as api_units
from api.schemas.members import ExemptionIn
from api.web import core
from api.web.pages.home import report_query
from ledger.domain.errors import InvalidInput
from ledger.domain.values import Role

router = APIRouter(route_class=core.WebRoute, include_in_schema=False)


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
        slips = q.unit_slips(views, unit_id=str(me))
    stats_row = stats[0] if stats else None
    counts = {"enrolled": len(years), "reported": sum(1 for y in years if y.reported),
              "exempt": sum(1 for y in years if y.exemption is not None),
              "missing": sum(1 for y in years if y.missing)}
    return core.page(request, "unit.html", {
        "unit": unit, "year": year, "years": years, "stats": stats_row, "counts": counts, "slips": slips,
        "query": report_query(year, me, None, None)}, principal=principal, title="单位")


@router.post("/unit/exemptions")
async def grant_exemption(request: Request) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)
    member_id = core.uuid_field(form, "member_id")
    year_text = core.field(form, "year", chars_max=4)
    if not year_text.isdigit():
        raise InvalidInput("year: four digits")
    year = int(year_text)

    def run() -> None:
        body = ExemptionIn(reason=core.field(form, "reason", chars_max=500))
        api_members.grant_exemption(member_id, year, body, core.commands_for(
            request, principal, path=f"/v1/members/{member_id}/exemptions/{year}", method="PUT",
            idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back=f"/unit?year={year}", ok="已登记有故免报到")
