"""Format-independent document model for printable reports (附件3/4/5, feedback, overviews).

A report is data only: projections build one, and `projections.render` turns it into PDF, XLSX,
CSV or JSON. Durations are whole minutes (`int`) in the data; a column of kind ``hours`` shows them
exactly as hours and minutes, ``h:mm`` (`ledger.domain.display`), so a totals row is the sum of the
rows as printed. Any cell may hold a ``str`` instead (e.g. "合计" in a totals row).
"""

from __future__ import annotations

import datetime
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from ledger.domain.display import duration_text

Align: TypeAlias = Literal["left", "center", "right"]
ColumnKind: TypeAlias = Literal["text", "int", "hours", "date"]
ChartKind: TypeAlias = Literal["bar", "line"]
CellValue: TypeAlias = str | int | float | datetime.date | None
Row: TypeAlias = Mapping[str, CellValue]

WIDTH_CHARS_AUTO_MAX = 40  # an auto-sized column wider than this wraps instead of growing


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


Item: TypeAlias = Table | Chart | QRCode | SignatureBox


@dataclass(frozen=True)
class Section:
    items: Sequence[Item]
    heading: str = ""


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


def format_cell(column: Column, value: CellValue) -> str:
    """The text a person sees in a cell, the same in PDF and CSV."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if column.kind == "hours" and isinstance(value, int):
        return duration_text(value)
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
