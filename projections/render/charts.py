"""Bar and line charts as reportlab drawings, labelled with the CJK font."""

from __future__ import annotations

from collections.abc import Sequence

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, Group, String
from reportlab.graphics.widgets.markers import Marker
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth

from ledger.domain.display import hours_value
from projections.render.model import Chart

CHART_HEIGHT = 230
LABEL_FONT_SIZE = 8.0
TITLE_FONT_SIZE = 11.0
LABEL_ANGLE_DEGREES = 35  # tilted category labels when they would not fit side by side
SERIES_COLOURS = (
    colors.HexColor("#c0392b"),
    colors.HexColor("#2e86c1"),
    colors.HexColor("#27ae60"),
    colors.HexColor("#d68910"),
    colors.HexColor("#7d3c98"),
    colors.HexColor("#566573"),
)
_LEFT = 55
_RIGHT = 15
_TOP = 30
_LEGEND_HEIGHT = 18


def chart_drawing(chart: Chart, font_name: str, width: float) -> Drawing:
    """A drawing `width` points wide: title, y label, plot, legend."""
    plot = _plot(chart)
    plot_width = round(width) - _LEFT - _RIGHT
    bottom = _LEGEND_HEIGHT + round(_category_label_height(chart, font_name, plot_width))
    plot.x, plot.y = _LEFT, bottom
    plot.width, plot.height = plot_width, CHART_HEIGHT - bottom - _TOP
    plot.data = [_plotted_values(chart, values) for _, values in chart.series]
    _style_axes(plot, chart, font_name, plot_width)
    drawing = Drawing(width, CHART_HEIGHT, initialFontName=font_name)
    drawing.add(plot)
    drawing.add(_title(chart.title, font_name, width))
    drawing.add(_y_label(chart.y_label, font_name, bottom + plot.height / 2))
    drawing.add(_legend(chart, font_name, width))
    return drawing


def _plot(chart: Chart) -> VerticalBarChart | HorizontalLineChart:
    if chart.kind == "bar":
        bars = VerticalBarChart()
        for index in range(len(chart.series)):
            bars.bars[index].fillColor = _colour(index)
            bars.bars[index].strokeColor = None
        return bars
    lines = HorizontalLineChart()
    lines.joinedLines = True
    for index in range(len(chart.series)):
        lines.lines[index].strokeColor = _colour(index)
        lines.lines[index].strokeWidth = 1.5
        lines.lines[index].symbol = Marker(kind="FilledCircle", size=4, fillColor=_colour(index))
    return lines


def _plotted_values(chart: Chart, values: Sequence[float]) -> list[float]:
    if chart.value_kind == "hours":
        return [hours_value(value) for value in values]
    return [float(value) for value in values]


def _style_axes(plot: VerticalBarChart | HorizontalLineChart, chart: Chart, font_name: str, plot_width: float) -> None:
    plot.categoryAxis.categoryNames = list(chart.categories)
    labels = plot.categoryAxis.labels
    labels.fontName, labels.fontSize = font_name, LABEL_FONT_SIZE
    if _labels_tilted(chart, font_name, plot_width):
        labels.angle, labels.boxAnchor, labels.dx, labels.dy = LABEL_ANGLE_DEGREES, "ne", 4, -2
    plot.valueAxis.valueMin = 0
    plot.valueAxis.labels.fontName = font_name
    plot.valueAxis.labels.fontSize = LABEL_FONT_SIZE
    plot.valueAxis.visibleGrid = True
    plot.valueAxis.gridStrokeColor = colors.lightgrey


def _labels_tilted(chart: Chart, font_name: str, plot_width: float) -> bool:
    slot_width = plot_width / max(len(chart.categories), 1)
    return _widest_category(chart, font_name) > slot_width * 0.9


def _category_label_height(chart: Chart, font_name: str, plot_width: float) -> float:
    if _labels_tilted(chart, font_name, plot_width):
        return _widest_category(chart, font_name) * 0.6 + 16
    return LABEL_FONT_SIZE + 16


def _widest_category(chart: Chart, font_name: str) -> float:
    return max((stringWidth(name, font_name, LABEL_FONT_SIZE) for name in chart.categories), default=0.0)


def _title(text: str, font_name: str, width: float) -> String:
    return String(
        width / 2,
        CHART_HEIGHT - TITLE_FONT_SIZE - 4,
        text,
        fontName=font_name,
        fontSize=TITLE_FONT_SIZE,
        textAnchor="middle",
    )


def _y_label(text: str, font_name: str, middle_y: float) -> Group:
    label = String(0, 0, text, fontName=font_name, fontSize=LABEL_FONT_SIZE, textAnchor="middle")
    return Group(label, transform=(0, 1, -1, 0, 12, middle_y))  # a quarter turn, reading upwards


def _legend(chart: Chart, font_name: str, width: float) -> Legend:
    legend = Legend()
    legend.fontName, legend.fontSize = font_name, LABEL_FONT_SIZE
    legend.alignment = "right"
    legend.boxAnchor = "s"
    legend.x, legend.y = round(width / 2), 2
    legend.columnMaximum = 1
    legend.deltax = 10
    legend.dx = legend.dy = 7
    legend.colorNamePairs = [(_colour(index), name) for index, (name, _) in enumerate(chart.series)]
    return legend


def _colour(index: int) -> colors.Color:
    return SERIES_COLOURS[index % len(SERIES_COLOURS)]
