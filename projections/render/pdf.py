"""Render a Report as an A4 PDF laid out like the paper forms, with an embedded CJK font."""

from __future__ import annotations

import functools
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from xml.sax.saxutils import escape

import segno
from reportlab.graphics.shapes import Drawing, Rect
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape, portrait
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as PdfTable

from projections.render.charts import chart_drawing
from projections.render.fonts import cjk_font, font_runs
from projections.render.model import (
    Align,
    Chart,
    FormGrid,
    Item,
    QRCode,
    Report,
    Section,
    SignatureBox,
    Table,
    Text,
    column_width_chars,
    format_cell,
    grid_places,
    totals_label_columns,
)

PAGE_MARGIN = 15 * mm
PAGE_NUMBER_FONT_SIZE = 8
CELL_FONT_SIZE_MAX = 10.0
CELL_FONT_SIZE_MIN = 7.0  # smaller than this is hard to read on paper; cells wrap instead
CELL_PADDING = 3.0
LATIN_CELL_EM = 0.6  # digits are 0.6 em wide in the CJK fonts; a CJK character (two cells) is 1 em
META_PAIRS_PER_ROW = {False: 3, True: 4}  # portrait, landscape
QR_SIZE = 32 * mm
QR_BORDER_MODULES = 2
SIGNATURE_BOX_WIDTH = 80 * mm
SIGNATURE_BOX_SPACE = 16 * mm
BLOCK_GAP = 10 * mm
_HANDWRITING_GAP = "\u00a0" * 10  # no-break spaces: a paragraph keeps them, room to write a number
SIGNATURE_DATE_LINE = f"{_HANDWRITING_GAP * 2}年{_HANDWRITING_GAP}月{_HANDWRITING_GAP}日"
HEADING_KEEP_SPACE = 40 * mm  # a section heading starts a new page unless its table's first rows fit
HEADER_FILL = colors.HexColor("#e8e8e8")
TOTALS_FILL = colors.HexColor("#f4f4f4")
_ALIGNMENTS: dict[Align, Literal[0, 1, 2]] = {"left": TA_LEFT, "center": TA_CENTER, "right": TA_RIGHT}


@dataclass(frozen=True)
class _Styles:
    font_name: str
    title: ParagraphStyle
    subtitle: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    note: ParagraphStyle

    @classmethod
    def for_font(cls, font_name: str) -> _Styles:
        return cls(
            font_name=font_name,
            title=_style(font_name, 16, TA_CENTER, space_after=4),
            subtitle=_style(font_name, 10.5, TA_CENTER, space_after=2),
            heading=_style(font_name, 12, TA_LEFT, space_before=8, space_after=4),
            body=_style(font_name, 10, TA_LEFT),
            note=_style(font_name, 8.5, TA_LEFT, space_before=3),
        )

    def cell(self, size: float, align: Align) -> ParagraphStyle:
        return _style(self.font_name, size, _ALIGNMENTS[align])


def render_pdf(report: Report) -> bytes:
    """The report as PDF bytes (deterministic for the same report and font)."""
    font_name = cjk_font().name
    styles = _Styles.for_font(font_name)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4) if report.landscape else portrait(A4),
        leftMargin=PAGE_MARGIN,
        rightMargin=PAGE_MARGIN,
        topMargin=PAGE_MARGIN,
        bottomMargin=PAGE_MARGIN,
        title=report.title,
        invariant=True,
        initialFontName=font_name,  # or the canvas refers to Helvetica, which is not embedded
    )
    story = list(_story(report, styles, document.width))
    document.build(story, canvasmaker=functools.partial(_NumberedCanvas, font_name=font_name))
    return buffer.getvalue()


class _NumberedCanvas(Canvas):  # type: ignore[misc, unused-ignore]  # reportlab is untyped without types-reportlab
    """Holds pages back until the end so each can say "第 N 页 / 共 M 页"."""

    def __init__(self, filename: Any, *, font_name: str, pagesize: tuple[float, float], **kwargs: Any) -> None:
        super().__init__(filename, pagesize=pagesize, **kwargs)
        self._font_name = font_name
        self._page_width = pagesize[0]
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined, unused-ignore]  # a fresh page, not yet written

    def save(self) -> None:
        for number, page in enumerate(self._pages, start=1):
            self.__dict__.update(page)
            self._draw_page_number(number, len(self._pages))
            super().showPage()
        super().save()

    def _draw_page_number(self, number: int, count: int) -> None:
        self.setFont(self._font_name, PAGE_NUMBER_FONT_SIZE)
        self.drawCentredString(self._page_width / 2, PAGE_MARGIN / 2, f"第 {number} 页 / 共 {count} 页")


def _story(report: Report, styles: _Styles, width: float) -> Iterator[Flowable]:
    yield _paragraph(report.title, styles.title)
    for line in report.subtitle_lines:
        yield _paragraph(line, styles.subtitle)
    if report.meta:
        yield _meta(report.meta, styles, width, META_PAIRS_PER_ROW[report.landscape])
    for section in report.sections:
        yield from _section(section, styles, width)
    for line in report.footer_lines:
        yield _paragraph(line, styles.note)


def _meta(meta: Sequence[tuple[str, str]], styles: _Styles, width: float, per_row: int) -> PdfTable:
    """The form's header line: "label：value" pairs in columns as wide as their longest pair."""
    texts = [f"{label}：{value}" for label, value in meta]
    rows = [texts[start : start + per_row] for start in range(0, len(texts), per_row)]
    columns = min(per_row, len(texts))
    rows[-1] = rows[-1] + [""] * (columns - len(rows[-1]))
    text_widths = [max(_text_width(row[index], styles.body) for row in rows) + 12 for index in range(columns)]
    scale = width / sum(text_widths)
    return _layout_table(
        [[_paragraph(text, styles.body) for text in row] for row in rows],
        styles.font_name,
        [("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)],
        colWidths=[text_width * scale for text_width in text_widths],
    )


def _section(section: Section, styles: _Styles, width: float) -> Iterator[Flowable]:
    """The heading stays with the first item: a chart or block row whole, a table's first rows."""
    if section.new_page:
        yield PageBreak()
    flowables = list(_section_items(section, styles, width))
    if not section.heading or not flowables:
        yield from flowables
        return
    heading = _paragraph(section.heading, styles.heading)
    first, *rest = flowables
    if isinstance(first, PdfTable):
        yield from (CondPageBreak(HEADING_KEEP_SPACE), heading, first)
    else:
        yield KeepTogether([heading, first])
    yield from rest


def _section_items(section: Section, styles: _Styles, width: float) -> Iterator[Flowable]:
    blocks: list[QRCode | SignatureBox] = []
    for item in section.items:
        if isinstance(item, QRCode | SignatureBox):
            blocks.append(item)
            continue
        if blocks:
            yield _block_row(blocks, styles)
            blocks = []
        yield from _item(item, styles, width)
    if blocks:
        yield _block_row(blocks, styles)


def _item(item: Item, styles: _Styles, width: float) -> Iterator[Flowable]:
    if isinstance(item, Table):
        yield from _table(item, styles, width)
        if item.note:
            yield _paragraph(item.note, styles.note)
    elif isinstance(item, Chart):
        yield chart_drawing(item, styles.font_name, width)
    elif isinstance(item, Text):
        style = _style(styles.font_name, item.size or styles.body.fontSize, _ALIGNMENTS[item.align],
                       space_after=(item.size or styles.body.fontSize) * 0.6)
        style.leading = style.fontSize * 1.7  # a letter on a form: lines with room to read and fill
        style.firstLineIndent = style.fontSize * 2 if item.indent else 0
        for line in item.lines:
            yield _paragraph(line, style)
    elif isinstance(item, FormGrid):
        yield _form_grid(item, styles, width)


FORM_FONT_SIZE = 10.5


def _form_grid(grid: FormGrid, styles: _Styles, width: float) -> PdfTable:
    """The ruled grid of a paper form: labels centred, values as filled in, spans as printed."""
    rows = len(grid.rows)
    columns = len(grid.widths)
    matrix: list[list[Any]] = [[""] * columns for _ in range(rows)]
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
        ("BOX", (0, 0), (-1, -1), 1.2, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]
    for row, column, cell in grid_places(grid):
        align: Align = "center" if cell.label else cell.align
        matrix[row][column] = _paragraph(cell.text, styles.cell(FORM_FONT_SIZE, align))
        if cell.colspan > 1 or cell.rowspan > 1:
            commands.append(("SPAN", (column, row), (column + cell.colspan - 1, row + cell.rowspan - 1)))
    heights = [value * mm if value else None for value in grid.heights_mm] + [None] * (rows - len(grid.heights_mm))
    scale = width / sum(grid.widths)
    return _layout_table(matrix, styles.font_name, commands, colWidths=[w * scale for w in grid.widths],
                         rowHeights=heights[:rows], spaceBefore=4)


TABLE_CHUNK_ROWS = 80  # reportlab splits a long table across pages in quadratic time: lay it out in chunks


def _table(table: Table, styles: _Styles, width: float) -> Iterator[PdfTable]:
    """The table as consecutive chunks that each repeat the header, so it reads as one table."""
    widths_chars = [max(column_width_chars(table, column), 1) for column in table.columns]
    size = _cell_font_size(sum(widths_chars), len(widths_chars), width)
    header_style = styles.cell(size, "center")
    header = [_paragraph(column.header, header_style) for column in table.columns]
    cell_styles = [styles.cell(size, column.align) for column in table.columns]
    body = [
        [
            _paragraph(format_cell(column, row.get(column.key)), style)
            for column, style in zip(table.columns, cell_styles, strict=True)
        ]
        for row in table.all_rows()
    ]
    scale = width / sum(widths_chars)
    totals_columns = totals_label_columns(table)
    starts = range(0, max(len(body), 1), TABLE_CHUNK_ROWS)
    for start in starts:
        last = start + TABLE_CHUNK_ROWS >= len(body)
        yield _layout_table(
            [header, *body[start:start + TABLE_CHUNK_ROWS]],
            styles.font_name,
            _grid_commands(totals_columns if last else 0),
            colWidths=[chars * scale for chars in widths_chars],
            repeatRows=1,
            spaceBefore=4 if start == 0 else 0,
        )


def _cell_font_size(width_chars: int, columns: int, width: float) -> float:
    """The largest size at which the declared widths fit across the page."""
    text_width = width - columns * 2 * CELL_PADDING
    return max(CELL_FONT_SIZE_MIN, min(CELL_FONT_SIZE_MAX, text_width / (width_chars * LATIN_CELL_EM)))


def _grid_commands(totals_label_columns: int) -> list[tuple[Any, ...]]:
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
    ]
    if totals_label_columns:
        commands.append(("BACKGROUND", (0, -1), (-1, -1), TOTALS_FILL))
        commands.append(("SPAN", (0, -1), (totals_label_columns - 1, -1)))
    return commands


def _block_row(blocks: Sequence[QRCode | SignatureBox], styles: _Styles) -> Flowable:
    """Signature boxes and QR codes side by side, like the foot of the paper forms."""
    cells = [
        _qr_code(block, styles) if isinstance(block, QRCode) else _signature_box(block, styles) for block in blocks
    ]
    widths = [(QR_SIZE if isinstance(block, QRCode) else SIGNATURE_BOX_WIDTH) + BLOCK_GAP for block in blocks]
    commands = [("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]
    right = all(isinstance(block, SignatureBox) and block.right for block in blocks)
    row = _layout_table([cells], styles.font_name, commands, colWidths=widths, hAlign="RIGHT" if right else "LEFT")
    return KeepTogether([Spacer(1, 8), row])


def _signature_box(box: SignatureBox, styles: _Styles) -> PdfTable:
    date_line = _paragraph(box.date_text or SIGNATURE_DATE_LINE, styles.cell(styles.body.fontSize, "right")) \
        if box.dated else ""
    return _layout_table(
        [[_paragraph(box.label, styles.body)], [""], [date_line]],
        styles.font_name,
        [("BOX", (0, 0), (-1, -1), 0.8, colors.black)],
        colWidths=[SIGNATURE_BOX_WIDTH],
        rowHeights=[None, SIGNATURE_BOX_SPACE, None],
    )


def _qr_code(qr: QRCode, styles: _Styles) -> list[Flowable]:
    caption = [_paragraph(qr.caption, styles.cell(styles.note.fontSize, "center"))] if qr.caption else []
    return [_qr_drawing(qr.payload, styles.font_name), *caption]


def _qr_drawing(payload: str, font_name: str) -> Drawing:
    """The QR symbol as vector rectangles, one per horizontal run of dark modules."""
    matrix = [list(row) for row in segno.make(payload, error="m").matrix_iter(border=QR_BORDER_MODULES)]
    module = QR_SIZE / len(matrix)
    drawing = Drawing(QR_SIZE, QR_SIZE, initialFontName=font_name)
    for row_index, row in enumerate(matrix):
        y = QR_SIZE - (row_index + 1) * module
        for start, length in _dark_runs(row):
            drawing.add(_dark_rect(start * module, y, length * module, module))
    return drawing


def _dark_rect(x: float, y: float, width: float, height: float) -> Rect:
    rect = Rect(x, y, width, height)
    rect.fillColor, rect.strokeColor = colors.black, None
    return rect


def _dark_runs(row: Sequence[int]) -> Iterator[tuple[int, int]]:
    start: int | None = None
    for index, dark in enumerate([*row, False]):
        if dark and start is None:
            start = index
        elif not dark and start is not None:
            yield start, index - start
            start = None


def _layout_table(rows: list[list[Any]], font_name: str, commands: list[tuple[Any, ...]], **options: Any) -> PdfTable:
    """A platypus table whose cells all use the CJK font (its default, Helvetica, is not embedded)."""
    layout = PdfTable(rows, **options)
    layout.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font_name), *commands]))
    return layout


def _text_width(text: str, style: ParagraphStyle) -> float:
    return float(stringWidth(text, style.fontName, style.fontSize))


def _paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph whose characters the main font lacks (生僻字 of Extensions B–H) are set in the
    fallback font that has them (`fonts.font_runs`)."""
    markup = "".join(_markup(run) if font == style.fontName else f'<font face="{font}">{_markup(run)}</font>'
                     for font, run in font_runs(text))
    return Paragraph(markup, style)


def _markup(text: str) -> str:
    return escape(text).replace("\n", "<br/>")


def _style(
    font_name: str,
    size: float,
    alignment: Literal[0, 1, 2],
    *,
    space_before: float = 0,
    space_after: float = 0,
) -> ParagraphStyle:
    return ParagraphStyle(
        name=f"{font_name}-{size}-{alignment}",
        fontName=font_name,
        fontSize=size,
        leading=size * 1.3,
        alignment=alignment,
        wordWrap="CJK",
        spaceBefore=space_before,
        spaceAfter=space_after,
    )
