"""Presentation only: a `projections.render` Report as data for an HTML template, its charts as
inline SVG drawn here on the server, and QR codes as SVG (segno). No business rules: every number
comes from the report the projections built."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import segno
from markupsafe import Markup

from ledger.domain.display import hours_value
from projections.render.model import (
    Chart,
    Column,
    FormGrid,
    QRCode,
    Report,
    SignatureBox,
    Table,
    Text,
    column_width_chars,
    display_width,
    format_cell,
    totals_label_columns,
)

SERIES_COLOURS = ("#c0392b", "#2e86c1", "#27ae60", "#d68910", "#7d3c98", "#566573")
CHART_WIDTH = 640
CHART_HEIGHT = 300
FONT_PX = 12
CHART_CATEGORIES_MAX = 40  # more bars than this do not fit a page; reports already cap theirs


@dataclass
class TableView:
    name: str
    headers: list[tuple[str, str, str]]  # (text, align, width class)
    rows: list[list[tuple[str, str]]]  # (text, align) per cell
    totals: list[tuple[str, str, int]] | None  # (text, align, colspan)
    note: str
    kind: str = "table"


@dataclass
class ReportView:
    title: str
    subtitle_lines: list[str]
    meta: list[tuple[str, str]]
    sections: list[dict[str, Any]] = field(default_factory=list)
    footer_lines: list[str] = field(default_factory=list)


def table_view(table: Table) -> TableView:
    columns = list(table.columns)
    rows: list[list[tuple[str, str]]] = [[(format_cell(column, row.get(column.key)), column.align) for column in columns]
                                         for row in table.rows]
    totals = None
    if table.totals_row is not None:
        span = max(totals_label_columns(table), 1)
        first = columns[0]
        totals = [(format_cell(first, table.totals_row.get(first.key)), "left", span)]
        for column in columns[span:]:
            totals.append((format_cell(column, table.totals_row.get(column.key)), column.align, 1))
    return TableView(name=table.name, headers=[(column.header, column.align, width_class(table, column))
                                               for column in columns], rows=rows, totals=totals, note=table.note)


WIDTH_CLASSES_EM = (2, 3, 4, 5, 6, 7, 8, 10, 12, 14)  # app.css has .w2 … .w14 (min-width in em)


def width_class(table: Table, column: Column) -> str:
    """A minimum column width from the report's own column width (Latin character cells; a CJK
    character is 2), so that a narrow screen scrolls the table instead of stacking one character a line."""
    em = column_width_chars(table, column) / 2
    if column.kind != "text":
        em = min(em, 5)
    chosen = next((size for size in WIDTH_CLASSES_EM if size >= em), WIDTH_CLASSES_EM[-1])
    return f"w{chosen}"


def report_view(report: Report) -> ReportView:
    view = ReportView(title=report.title, subtitle_lines=list(report.subtitle_lines), meta=list(report.meta),
                      footer_lines=list(report.footer_lines))
    for number, section in enumerate(report.sections):
        items: list[Any] = []
        for index, item in enumerate(section.items):
            if isinstance(item, Table):
                items.append(table_view(item))
            elif isinstance(item, Chart):
                items.append({"kind": "chart", "svg": chart_svg(item, ident=f"chart-{number}-{index}"),
                              "title": item.title})
            elif isinstance(item, QRCode):
                items.append({"kind": "qr", "svg": qr_svg(item.payload, scale=3), "caption": item.caption,
                              "payload": item.payload})
            elif isinstance(item, SignatureBox):
                items.append({"kind": "signature", "label": item.label, "dated": item.dated,
                              "date_text": item.date_text, "right": item.right})
            elif isinstance(item, Text):
                items.append({"kind": "text", "lines": list(item.lines), "align": item.align, "indent": item.indent})
            elif isinstance(item, FormGrid):
                items.append({"kind": "form", "name": item.name, "rows": [
                    [{"text": cell.text, "colspan": cell.colspan, "rowspan": cell.rowspan, "label": cell.label}
                     for cell in row] for row in item.rows]})
        view.sections.append({"heading": section.heading, "items": items, "new_page": section.new_page})
    return view


# -- QR codes ------------------------------------------------------------------------------------------------

def qr_svg(payload: str, *, scale: int = 4, label: str = "", standalone: bool = False) -> Markup:
    """An inline SVG QR code (error correction M), labelled for screen readers; `standalone`: an SVG file
    of its own (an <img>'s source), which needs the SVG namespace and its size that inline SVG does not."""
    code = segno.make(payload, error="m", micro=False)
    svg = code.svg_inline(scale=scale, border=2, dark="#000", light="#fff", svgclass="qr", lineclass=None,
                          omitsize=not standalone)
    namespace = 'xmlns="http://www.w3.org/2000/svg" ' if standalone else ""
    return Markup(svg.replace("<svg ", f'<svg {namespace}role="img" aria-label="{escape(label or payload)}" ', 1))


# -- charts ---------------------------------------------------------------------------------------------------

def _nice_ceiling(value: float) -> float:
    """1, 2, 2.5, 5 × 10^k at or above `value` (an axis maximum with round ticks)."""
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10 ** exponent
        if candidate >= value - 1e-9:
            return float(candidate)
    return float(10 ** (exponent + 1))


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def _plotted(chart: Chart, values: Sequence[float]) -> list[float]:
    if chart.value_kind == "hours":
        return [hours_value(v) for v in values]
    return [float(v) for v in values]


def chart_svg(chart: Chart, *, ident: str = "chart") -> Markup:
    """A bar or line chart as an inline, scalable SVG with a text description of its data."""
    categories = list(chart.categories)[:CHART_CATEGORIES_MAX]
    series = [(name, _plotted(chart, values)[:len(categories)]) for name, values in chart.series]
    width, height = CHART_WIDTH, CHART_HEIGHT
    left, right, top = 52, 14, 40 + (18 if len(series) > 1 else 0)
    widest = max((display_width(c) for c in categories), default=1) * FONT_PX * 0.55
    tilted = widest > (width - left - right) / max(len(categories), 1) - 4
    if tilted:  # the first label, tilted, must not start left of the picture
        slot_guess = (width - left - right) / max(len(categories), 1)
        left = max(left, int(widest * math.cos(math.radians(35)) - slot_guess / 2) + 6)
    plot_width = width - left - right
    slot = plot_width / max(len(categories), 1)
    label_height = (widest * math.sin(math.radians(35)) + FONT_PX + 6) if tilted else FONT_PX + 10
    bottom = int(min(label_height, 110)) + 8
    plot_height = height - top - bottom
    peak = max((v for _, values in series for v in values), default=0.0)
    axis_max = _nice_ceiling(peak)
    ticks = 5

    def y_of(value: float) -> float:
        return top + plot_height - (value / axis_max) * plot_height

    parts: list[str] = []
    description = "；".join(f"{name}：" + "，".join(f"{c} {_number(v)}" for c, v in zip(categories, values))
                           for name, values in series)
    parts.append(f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
                 f'aria-labelledby="{ident}-t {ident}-d" xmlns="http://www.w3.org/2000/svg">')
    parts.append(f'<title id="{ident}-t">{escape(chart.title)}</title>')
    parts.append(f'<desc id="{ident}-d">{escape(description)}</desc>')
    parts.append(f'<text x="{width / 2:.0f}" y="20" text-anchor="middle" class="chart-title">'
                 f'{escape(chart.title)}</text>')
    if chart.y_label:
        parts.append(f'<text x="6" y="{top - 8}" class="chart-axis">{escape(chart.y_label)}</text>')
    for tick in range(ticks + 1):
        value = axis_max * tick / ticks
        y = y_of(value)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="chart-grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="chart-axis">'
                     f'{_number(value)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_height}" y2="{top + plot_height}" '
                 f'class="chart-base"/>')
    if chart.kind == "bar":
        group = slot * 0.72
        bar = group / max(len(series), 1)
        for s_index, (name, values) in enumerate(series):
            colour = SERIES_COLOURS[s_index % len(SERIES_COLOURS)]
            for c_index, value in enumerate(values):
                x = left + c_index * slot + (slot - group) / 2 + s_index * bar
                y = y_of(value)
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar - 1, 1):.1f}" '
                             f'height="{top + plot_height - y:.1f}" fill="{colour}">'
                             f'<title>{escape(categories[c_index])} · {escape(name)}：{_number(value)}</title></rect>')
                if len(categories) * len(series) <= 16 and value > 0:
                    parts.append(f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                                 f'class="chart-value">{_number(value)}</text>')
    else:
        for s_index, (name, values) in enumerate(series):
            colour = SERIES_COLOURS[s_index % len(SERIES_COLOURS)]
            points = [(left + (i + 0.5) * slot, y_of(v)) for i, v in enumerate(values)]
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
            for (x, y), category, value in zip(points, categories, values):
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">'
                             f'<title>{escape(category)} · {escape(name)}：{_number(value)}</title></circle>')
    for c_index, category in enumerate(categories):
        x = left + (c_index + 0.5) * slot
        y = top + plot_height + FONT_PX + 4
        if tilted:
            parts.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="end" class="chart-label" '
                         f'transform="rotate(-35 {x:.1f} {y:.1f})">{escape(category)}</text>')
        else:
            parts.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" class="chart-label">'
                         f'{escape(category)}</text>')
    if len(series) > 1:
        x = left
        for s_index, (name, _) in enumerate(series):
            colour = SERIES_COLOURS[s_index % len(SERIES_COLOURS)]
            parts.append(f'<rect x="{x}" y="30" width="12" height="12" fill="{colour}"/>')
            parts.append(f'<text x="{x + 16}" y="40" class="chart-axis">{escape(name)}</text>')
            x += 16 + int(display_width(name) * FONT_PX * 0.6) + 20
    parts.append("</svg>")
    return Markup("".join(parts))



def settlement_view(peers: dict[str, dict[str, str]], verdict: Any) -> dict[str, Any]:
    """What the 联盟地区 page and the auditor page show of a checked settlement statement."""
    return {"peer": verdict.peer, "name": peers.get(verdict.peer, {}).get("name", verdict.peer), "ok": verdict.ok,
            "agreed": verdict.agreed, "they_owe_minutes": verdict.agreed_minutes_they_owe,
            "we_owe_minutes": verdict.agreed_minutes_we_owe, "disputes": verdict.disputes}


def evidence_view(audit: Any, lang: str, names: dict[str, str]) -> dict[str, Any]:
    """What the auditor page shows of `ledger.verification.settlement.audit_evidence` (`names`: the
    regions this one knows, by code; any other is shown by its code)."""
    from api.catalogue import code_message

    def words(code: str) -> str:
        zh, en = code_message(code)
        return en if lang == "en" else zh

    return {"ok": audit.ok, "agreed": audit.agreed, "agreed_minutes": sorted(audit.agreed_minutes.items()),
            "names": {code: f"{name}（{code}）" for code, name in names.items()},
            "sides": audit.sides, "disagreements": audit.disagreements,
            "findings": [{"code": f.code, "text": words(f.code), "region": f.region, "redemption_id": f.redemption_id,
                          "detail": f.detail} for f in audit.findings]}
