"""A page (not the API's JSON) for a mistyped address under the pages' own prefixes. Included
last, so every real page matches first; other paths keep the API's JSON 404."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.web import core
from ledger.domain.errors import NotFound

router = APIRouter(route_class=core.WebRoute, include_in_schema=False)
PREFIXES = ("counter", "community", "me", "resident", "unit", "audit", "region", "reports")


def _not_found(request: Request, rest: str = "") -> Response:
    return core.error_page(request, NotFound("no such page"), 404)


for _prefix in PREFIXES:
    router.add_api_route(f"/{_prefix}/{{rest:path}}", _not_found, methods=["GET"])
