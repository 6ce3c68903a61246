"""报表 Lists and reports, from the read models of projections/ (issue #3)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/reports", tags=["reports 报表"])
