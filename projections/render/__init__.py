"""Report rendering: build a `Report` (see `model`), then `render(report, "pdf" | "xlsx" | "csv" | "json")`."""

from __future__ import annotations

import datetime
import json
from typing import Literal, TypeAlias

from projections.render.csv import render_csv
from projections.render.model import CellValue, Report, Row, Table, form_lines
from projections.render.pdf import render_pdf
from projections.render.xlsx import render_xlsx

Format: TypeAlias = Literal["pdf", "xlsx", "csv", "json"]
MEDIA_TYPES: dict[Format, str] = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}


def render(report: Report, fmt: Format) -> bytes:
    """The report in one format; CSV holds the first table only (see `render_csv`)."""
    if fmt == "pdf":
        return render_pdf(report)
    if fmt == "xlsx":
        return render_xlsx(report)
    if fmt == "csv":
        return render_csv(report)
    if fmt == "json":
        return render_json(report)
    raise ValueError(f"unknown report format {fmt!r}; expected one of {sorted(MEDIA_TYPES)}")


def render_json(report: Report) -> bytes:
    """Title, meta and every table's rows by key; minutes stay integers, dates are ISO strings."""
    document = {
        "title": report.title,
        "meta": [{"label": label, "value": value} for label, value in report.meta],
        "tables": [_table_json(table) for table in report.tables()],
        "form_lines": form_lines(report),
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _table_json(table: Table) -> dict[str, object]:
    return {
        "name": table.name,
        "columns": [{"key": column.key, "header": column.header, "kind": column.kind} for column in table.columns],
        "rows": [_row_json(row) for row in table.rows],
        "totals_row": _row_json(table.totals_row) if table.totals_row is not None else None,
    }


def _row_json(row: Row) -> dict[str, CellValue]:
    return {key: value.isoformat() if isinstance(value, datetime.date) else value for key, value in row.items()}


__all__ = ["MEDIA_TYPES", "Format", "render", "render_csv", "render_json", "render_pdf", "render_xlsx"]
