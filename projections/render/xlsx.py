"""Render a Report as an Excel workbook: one sheet per table, one per chart (a native chart)."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from projections.render.model import (
    MINUTES_PER_HOUR,
    CellValue,
    Chart,
    Column,
    Report,
    Row,
    Table,
    column_width_chars,
    display_width,
    form_lines,
    format_cell,
    minutes_to_hours,
    totals_label_columns,
)

SHEET_NAME_MAX = 31  # Excel's limit
SHEET_NAME_FALLBACK = "表"
COLUMN_PADDING_CHARS = 2
POINTS_PER_LINE = 15
CHART_ANCHOR_GAP_COLUMNS = 2
NUMBER_FORMATS = {"int": "0", "hours": "0.0", "date": "yyyy-mm-dd"}
_ILLEGAL_SHEET_CHARACTERS = re.compile(r"[\[\]:*?/\\]")
_THIN = Side(style="thin")
_GRID = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_HEADER_FILL = PatternFill("solid", fgColor="E8E8E8")


def render_xlsx(report: Report) -> bytes:
    """The report as .xlsx bytes."""
    workbook = Workbook()
    workbook.remove(workbook.worksheets[0])  # the default sheet; each item gets its own
    taken: set[str] = set()
    for section in report.sections:
        for item in section.items:
            if isinstance(item, Table):
                _write_table_sheet(workbook.create_sheet(_sheet_name(item.name, taken)), report, section.heading, item)
            elif isinstance(item, Chart):
                _write_chart_sheet(workbook.create_sheet(_sheet_name(item.title, taken)), item)
    if not workbook.worksheets:
        sheet = workbook.create_sheet(_sheet_name(report.title, taken))
        last = _write_heading(sheet, report, "", columns=1)
        for offset, line in enumerate(form_lines(report), start=last + 2):  # a form's letter or grid
            for column, text in enumerate(line, start=1):
                _put(sheet, offset, column, text)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sheet_name(wanted: str, taken: set[str]) -> str:
    """Legal in Excel (≤31 characters, none of []:*?/\\) and unique, ignoring case, within `taken`."""
    base = _ILLEGAL_SHEET_CHARACTERS.sub("_", wanted).strip("'")[:SHEET_NAME_MAX] or SHEET_NAME_FALLBACK
    name, number = base, 1
    while name.casefold() in taken:
        number += 1
        suffix = f"({number})"
        name = base[: SHEET_NAME_MAX - len(suffix)] + suffix
    taken.add(name.casefold())
    return name


def _write_table_sheet(sheet: Worksheet, report: Report, heading: str, table: Table) -> None:
    header_row = _write_heading(sheet, report, heading, columns=len(table.columns)) + 2
    widths = [column_width_chars(table, column) + COLUMN_PADDING_CHARS for column in table.columns]
    _write_header(sheet, table, widths, header_row)
    for offset, row in enumerate(table.rows, start=1):
        _write_row(sheet, table.columns, widths, row, header_row + offset, bold=False)
    last_body_row = header_row + len(table.rows)
    if table.totals_row is not None:
        _write_row(sheet, table.columns, widths, table.totals_row, last_body_row + 1, bold=True)
        _merge_row(sheet, last_body_row + 1, totals_label_columns(table))
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.auto_filter.ref = f"A{header_row}:{get_column_letter(len(table.columns))}{last_body_row}"
    _set_up_printing(sheet, landscape=report.landscape, header_row=header_row)
    notes = [text for text in (table.note, *report.footer_lines) if text]
    first_note_row = sheet.max_row + 2
    for offset, text in enumerate(notes):
        _put(sheet, first_note_row + offset, 1, text)


def _write_heading(sheet: Worksheet, report: Report, heading: str, *, columns: int) -> int:
    """Title, subtitles, meta line and section heading above the table; returns the last row used."""
    meta_line = "　　".join(f"{label}：{value}" for label, value in report.meta)
    centred = [(report.title, Font(bold=True, size=14)), *((line, Font(size=11)) for line in report.subtitle_lines)]
    for row, (text, font) in enumerate(centred, start=1):
        cell = _put(sheet, row, 1, text)
        cell.font, cell.alignment = font, Alignment(horizontal="center")
        _merge_row(sheet, row, columns)
    left = [text for text in (meta_line, heading) if text]  # unmerged, so long lines run on to the right
    for row, text in enumerate(left, start=len(centred) + 1):
        _put(sheet, row, 1, text).font = Font(size=11)
    return len(centred) + len(left)


def _merge_row(sheet: Worksheet, row: int, columns: int) -> None:
    if columns > 1:
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=columns)


def _write_header(sheet: Worksheet, table: Table, widths: Sequence[int], row: int) -> None:
    for index, (column, width) in enumerate(zip(table.columns, widths, strict=True), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
        cell = _put(sheet, row, index, column.header)
        cell.font, cell.fill, cell.border = Font(bold=True), _HEADER_FILL, _GRID
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    _fit_row_height(sheet, row, [column.header for column in table.columns], widths)


def _write_row(
    sheet: Worksheet, columns: Sequence[Column], widths: Sequence[int], values: Row, row: int, *, bold: bool
) -> None:
    for index, column in enumerate(columns, start=1):
        cell = _put(sheet, row, index, _cell_value(column, values.get(column.key)))
        cell.border = _GRID
        cell.alignment = Alignment(horizontal=column.align, vertical="center", wrap_text=True)
        cell.number_format = NUMBER_FORMATS.get(column.kind, "General")
        if bold:
            cell.font = Font(bold=True)
    _fit_row_height(sheet, row, [format_cell(column, values.get(column.key)) for column in columns], widths)


def _fit_row_height(sheet: Worksheet, row: int, texts: Sequence[str], widths: Sequence[int]) -> None:
    """Tall enough for the wrapped text: spreadsheets do not grow rows that openpyxl writes."""
    lines = max(math.ceil(display_width(text) / max(width - 1, 1)) for text, width in zip(texts, widths, strict=True))
    sheet.row_dimensions[row].height = max(lines, 1) * POINTS_PER_LINE


def _set_up_printing(sheet: Worksheet, *, landscape: bool, header_row: int | None) -> None:
    """A4, one page wide; a table's header row is repeated on every printed page."""
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    if header_row is not None:
        sheet.print_title_rows = f"{header_row}:{header_row}"


def _put(sheet: Worksheet, row: int, column: int, value: CellValue) -> Cell:
    """Write a value; text stays text even when it starts with "=" (never a formula from data)."""
    cell = sheet.cell(row, column, value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def _cell_value(column: Column, value: CellValue) -> CellValue:
    """Numbers stay numbers: minutes become exact hours, shown with one decimal."""
    if column.kind == "hours" and isinstance(value, int | float):
        return value / MINUTES_PER_HOUR
    return value


def _write_chart_sheet(sheet: Worksheet, chart: Chart) -> None:
    sheet.append(["", *(name for name, _ in chart.series)])
    for index, category in enumerate(chart.categories):
        sheet.append([category, *(_chart_value(chart, values[index]) for _, values in chart.series)])
    excel_chart = BarChart() if chart.kind == "bar" else LineChart()
    excel_chart.title = chart.title
    excel_chart.y_axis.title = chart.y_label
    excel_chart.x_axis.delete = excel_chart.y_axis.delete = False  # newer Excel hides axes otherwise
    last_row = len(chart.categories) + 1
    data = Reference(sheet, min_col=2, max_col=len(chart.series) + 1, min_row=1, max_row=last_row)
    excel_chart.add_data(data, titles_from_data=True)
    for series in excel_chart.series:
        series.smooth = False  # openpyxl smooths lines by default, which invents values between points
    excel_chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=last_row))
    excel_chart.width, excel_chart.height = 20, 10
    anchor_column = get_column_letter(len(chart.series) + 1 + CHART_ANCHOR_GAP_COLUMNS)
    sheet.add_chart(excel_chart, f"{anchor_column}2")
    _set_up_printing(sheet, landscape=True, header_row=None)
    sheet.column_dimensions["A"].width = (
        max(display_width(name) for name in [*chart.categories, ""]) + COLUMN_PADDING_CHARS
    )


def _chart_value(chart: Chart, value: float) -> float:
    return float(minutes_to_hours(value)) if chart.value_kind == "hours" else value
