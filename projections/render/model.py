"""Format-independent document model for printable reports (附件3/4/5, feedback, overviews).

A report is data only: projections build one, and `projections.render` turns it into PDF, XLSX,
CSV or JSON. Durations are whole minutes (`int`) in the data; a column of kind ``hours`` shows them
as hours with one decimal. Any cell may hold a ``str`` instead (e.g. "合计" in a totals row).
"""

from __future__ import annotations

import datetime
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, TypeAlias

from ledger.domain.values import CHINA_TIME

Align: TypeAlias = Literal["left", "center", "right"]
ColumnKind: TypeAlias = Literal["text", "int", "hours", "date"]
ChartKind: TypeAlias = Literal["bar", "line"]
CellValue: TypeAlias = str | int | float | datetime.date | None
Row: TypeAlias = Mapping[str, CellValue]

MINUTES_PER_HOUR = 60
WIDTH_CHARS_AUTO_MAX = 40  # an auto-sized column wider than this wraps instead of growing
_HOURS_QUANTUM = Decimal("0.1")


@dataclass(frozen=True)
class Column:
    """One table column. `width_chars` counts Latin character cells; a CJK character counts 2.

    `width_chars=None` sizes the column from its header and values (at most WIDTH_CHARS_AUTO_MAX).
    """

    key: str
    header: str
    width_chars: int | None = None
    align: Align = "left"
    kind: ColumnKind = "text"


@dataclass(frozen=True)
class Table:
    """A table. `name` titles its XLSX sheet and picks it for CSV; `rows` map column keys to values."""

    name: str
    columns: Sequence[Column]
    rows: Sequence[Row]
    totals_row: Row | None = None
    note: str = ""

    def __post_init__(self) -> None:
        keys = [column.key for column in self.columns]
        if not keys:
            raise ValueError(f"table {self.name!r} has no columns")
        if len(set(keys)) != len(keys):
            raise ValueError(f"table {self.name!r} repeats a column key: {keys}")

    def all_rows(self) -> list[Row]:
        """The body rows, then the totals row if there is one."""
        return [*self.rows, *([self.totals_row] if self.totals_row is not None else [])]


@dataclass(frozen=True)
class Chart:
    """A category chart; `value_kind="hours"` means the series hold minutes to show as hours."""

    kind: ChartKind
    title: str
    categories: Sequence[str]
    series: Sequence[tuple[str, Sequence[float]]]
    y_label: str = ""
    value_kind: Literal["int", "hours"] = "int"

    def __post_init__(self) -> None:
        for name, values in self.series:
            if len(values) != len(self.categories):
                raise ValueError(
                    f"chart {self.title!r}: series {name!r} has {len(values)} values, not one per category"
                )


@dataclass(frozen=True)
class QRCode:
    """A QR code (e.g. a certificate verification link) with a caption under it."""

    payload: str
    caption: str = ""


@dataclass(frozen=True)
class SignatureBox:
    """A blank box to sign or stamp, like the forms' 认证签字 / 盖章 boxes."""

    label: str
    dated: bool = True
    date_text: str = ""  # the date already known (e.g. the day a slip was issued); blank: 年 月 日 to fill
    right: bool = False  # at the right of the page, where a form has its seal


@dataclass(frozen=True)
class Text:
    """Running text printed on a form, one paragraph per line: the letter of 附件1's 报到单, the
    line above 附件2's grid. `size` in points (None: the body size)."""

    lines: Sequence[str]
    align: Align = "left"
    size: float | None = None
    indent: bool = False  # the first line of each paragraph indented two characters, as in a letter


@dataclass(frozen=True)
class FormCell:
    """One cell of a ruled form: a printed `label` (shaded) or a filled-in value."""

    text: str = ""
    colspan: int = 1
    rowspan: int = 1
    label: bool = False
    align: Align = "left"


@dataclass(frozen=True)
class FormGrid:
    """A paper form's ruled grid (附件2 登记表): rows of cells that may span columns and rows.

    Each row lists its cells left to right, leaving out the places a cell from a row above covers
    (as HTML does). `widths` are relative column widths; `heights_mm` the least height of each row
    (None: as tall as its text), e.g. room for a photo or a signature.
    """

    name: str
    widths: Sequence[int]
    rows: Sequence[Sequence[FormCell]]
    heights_mm: Sequence[float | None] = ()

    def __post_init__(self) -> None:
        placed = grid_places(self)  # raises ValueError when the spans do not tile the grid
        if len(placed) != sum(len(row) for row in self.rows):
            raise ValueError(f"form {self.name!r}: cells and spans do not match")

    def texts(self) -> list[str]:
        return [cell.text for row in self.rows for cell in row]


def grid_places(grid: FormGrid) -> list[tuple[int, int, FormCell]]:
    """(row, column, cell) for every cell of the grid, spans taken into account; ValueError when a
    row is too long or too short for the columns."""
    columns = len(grid.widths)
    taken: set[tuple[int, int]] = set()
    places = []
    for row_index, row in enumerate(grid.rows):
        column = 0
        for cell in row:
            while (row_index, column) in taken:
                column += 1
            if column + cell.colspan > columns or row_index + cell.rowspan > len(grid.rows):
                raise ValueError(f"form {grid.name!r}: row {row_index + 1} runs past the grid")
            places.append((row_index, column, cell))
            taken.update((row_index + r, column + c) for r in range(cell.rowspan) for c in range(cell.colspan))
            column += cell.colspan
        if {c for r, c in taken if r == row_index} != set(range(columns)):
            raise ValueError(f"form {grid.name!r}: row {row_index + 1} does not fill the {columns} columns")
    return places


Item: TypeAlias = Table | Chart | QRCode | SignatureBox | Text | FormGrid


@dataclass(frozen=True)
class Section:
    """Items under an optional heading; `new_page` starts the section on a new page (e.g. the
    technical details behind a member's paper)."""

    items: Sequence[Item]
    heading: str = ""
    new_page: bool = False


@dataclass(frozen=True)
class Report:
    title: str
    sections: Sequence[Section]
    subtitle_lines: Sequence[str] = ()
    meta: Sequence[tuple[str, str]] = ()
    footer_lines: Sequence[str] = ()
    landscape: bool = False

    def tables(self) -> list[Table]:
        return [item for section in self.sections for item in section.items if isinstance(item, Table)]


def form_lines(report: Report) -> list[list[str]]:
    """A form's text outside tables, for formats without a page (CSV, JSON, XLSX): each Text line
    as one cell, each grid row as its cells, each signature box as its label and date."""
    lines: list[list[str]] = []
    for section in report.sections:
        for item in section.items:
            if isinstance(item, Text):
                lines.extend([line] for line in item.lines)
            elif isinstance(item, FormGrid):
                lines.extend([cell.text for cell in row] for row in item.rows)
            elif isinstance(item, SignatureBox):
                lines.append([item.label, item.date_text])
    return lines


def minutes_to_hours(minutes: float) -> Decimal:
    """Hours rounded half-up to one decimal: 90 -> 1.5, 5 -> 0.1."""
    return (Decimal(minutes) / MINUTES_PER_HOUR).quantize(_HOURS_QUANTUM, rounding=ROUND_HALF_UP)


def china_time(moment: datetime.datetime | str, *, seconds: bool = False) -> str:
    """An instant as people in China read it: "2026-12-03 15:00" in Beijing time (Asia/Shanghai).

    The one place a page or paper turns a stored instant (UTC or with any offset, a datetime or
    an ISO 8601 string) into text; a naive instant is taken as UTC, as the ledger stores them.
    """
    if isinstance(moment, str):
        moment = datetime.datetime.fromisoformat(moment)  # Python 3.11 reads "Z" too
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def chinese_date(day: datetime.date | None) -> str:
    """A form's date, written as on paper: "2026年9月12日" (blank: "　　年　　月　　日")."""
    if day is None:
        return "\u3000\u3000年\u3000\u3000月\u3000\u3000日"
    return f"{day.year}年{day.month}月{day.day}日"


def format_cell(column: Column, value: CellValue) -> str:
    """The text a person sees in a cell, the same in PDF and CSV."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if column.kind == "hours" and isinstance(value, int | float):
        return str(minutes_to_hours(value))
    if isinstance(value, datetime.datetime):
        return china_time(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def totals_label_columns(table: Table) -> int:
    """How many leading columns the totals row's first cell (its label) may span; 0 without totals.

    The label runs over the empty cells after it, like the form's "个人累计社区服务活动时间" line.
    """
    totals = table.totals_row
    if totals is None:
        return 0
    filled = (index for index, column in enumerate(table.columns) if index > 0 and totals.get(column.key) is not None)
    return next(filled, len(table.columns))


def display_width(text: str) -> int:
    """Width in Latin character cells: wide and full-width (CJK) characters count 2."""
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


def column_width_chars(table: Table, column: Column) -> int:
    """The declared width, or one fitted to the header and the values."""
    if column.width_chars is not None:
        return column.width_chars
    texts = [column.header, *(format_cell(column, row.get(column.key)) for row in table.all_rows())]
    return min(max(display_width(text) for text in texts), WIDTH_CHARS_AUTO_MAX)
