"""Render one table of a Report as CSV for Excel: UTF-8 with a BOM, CRLF line ends."""

from __future__ import annotations

import csv
import io
import re

from projections.render.model import Report, Table, form_lines, format_cell

# Text that a spreadsheet would run as a formula (=, +, -, @, or a tab/CR first), unless it is
# only a number or phone number such as "-5" or "+86 139 0000 0000".
_FORMULA_LIKE = re.compile(r"[=+\-@\t\r]")
_NUMBER_LIKE = re.compile(r"[+-]?[\d\s().-]+")


def render_csv(report: Report, table_name: str | None = None) -> bytes:
    """The first table, or the one named `table_name`, with its totals row last. A form without a
    table (附件1's letters, 附件2's grid) gives its lines and its grid's rows, cell by cell."""
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    if table_name is None and not report.tables():
        writer.writerow([report.title])
        for line in form_lines(report):
            writer.writerow([_inert(cell) for cell in line])
        return text.getvalue().encode("utf-8-sig")
    table = _pick_table(report, table_name)
    writer.writerow([column.header for column in table.columns])
    for row in table.all_rows():
        writer.writerow([_inert(format_cell(column, row.get(column.key))) for column in table.columns])
    return text.getvalue().encode("utf-8-sig")


def _inert(text: str) -> str:
    """Prefix formula-like text with an apostrophe so that opening the CSV runs nothing."""
    if _FORMULA_LIKE.match(text) and not _NUMBER_LIKE.fullmatch(text):
        return "'" + text
    return text


def _pick_table(report: Report, table_name: str | None) -> Table:
    for table in report.tables():
        if table_name is None or table.name == table_name:
            return table
    raise KeyError(f"report {report.title!r} has no table" + (f" {table_name!r}" if table_name else ""))
