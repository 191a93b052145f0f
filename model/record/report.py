"""The reading report as PDF (matplotlib ``PdfPages``).

A :class:`Report` is plain data: titled sections of (label, value) facts, a few :class:`ReportView`
slices, and, for weights that segment (issue 29), the measurements as a :class:`ReportTable`, a
:class:`GrowthChart` per measure against its age reference and a :class:`FindingView` (three planes
with the segmentation overlay) at each finding. :func:`write_report` lays it out on A4 pages --
page 1 the patient and study identifiers (when given), the AI result and the key images with the
heatmap; then the measurements with their references and growth charts; then the other facts
(reader's decision, scan, model card with its metrics as rows); then the three planes through the
heatmap maximum without and with the overlay; last the key images at each finding -- and writes the
file atomically. The caller (the viewer, or :mod:`model.record.reading_report` for the command
line) decides which slices to show and how they are oriented; this module only draws.

The report is in four parts; this module puts the pages together (:func:`write_report`) and
re-exports the public names of the other three, so ``from model.record.report import ...`` reaches
all of them:

* :mod:`model.record.report_facts`: the facts as (label, value) text (:func:`scan_facts`,
  :func:`result_facts`, :func:`card_facts`, :func:`metrics_rows`, :func:`format_probability`);
  imports none of the other parts;
* :mod:`model.record.report_data`: the plain data (:class:`Report`, :class:`ReportView`,
  :class:`ReportTable`, :class:`GrowthChart`, :class:`FindingView`, :data:`DISCLAIMER`); imports
  none of the other parts;
* :mod:`model.record.report_layout`: the page layout and drawing primitives (text measured and
  wrapped, :func:`tidy`, the page frame, sections, captions, table rows, image panels, growth
  charts, segmentation colours); imports ``report_data``;
* this module: the pages in order and the file; imports the three.

What an out-of-distribution result may show is decided by :func:`model.disclosure.may_show_result`
(issue 30): :func:`result_facts` gives no probability, call or TTA passes for such a scan unless the
reader asked to see them anyway, and a report whose ``result_withheld`` is set draws its key images
without the heatmap.

Nothing here imports Qt.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.fileio import atomic_output
from model.heatmap import (  # noqa: F401 - re-exported for older imports
    DEFAULT_HEATMAP_THRESHOLD,
    HEATMAP_CAPTION,
    HEATMAP_COLORMAPS,
    heatmap_lut,
    heatmap_rgba,
)
from model.record.report_data import (
    DISCLAIMER,
    FindingView,
    GrowthChart,
    Report,
    ReportTable,
    ReportView,
)
from model.record.report_facts import (
    card_facts,
    format_probability,
    metrics_rows,
    result_facts,
    scan_facts,
)
from model.record.report_layout import (
    _FONT,
    _LABEL_X,
    _LINE,
    _RIGHT_X,
    A4_PORTRAIT_IN,
    _bottom,
    _draw_caption,
    _draw_fact,
    _draw_growth_chart,
    _draw_section,
    _draw_table_row,
    _fact_height,
    _fraction_to_pt,
    _hline,
    _imshow_view,
    _label_plane,
    _new_page,
    _section_title,
    _sentences,
    _table_rows_height,
    highlight_rgba,
    label_outline_rgba,
    segmentation_legend,
    text_width_pt,
    tidy,
    wrap_to_width,
)

__all__ = [
    "A4_PORTRAIT_IN",
    "DEFAULT_HEATMAP_THRESHOLD",
    "DISCLAIMER",
    "HEATMAP_CAPTION",
    "HEATMAP_COLORMAPS",
    "PAGE_ONE_SECTIONS",
    "FindingView",
    "GrowthChart",
    "Report",
    "ReportTable",
    "ReportView",
    "card_facts",
    "format_probability",
    "heatmap_lut",
    "heatmap_rgba",
    "highlight_rgba",
    "label_outline_rgba",
    "metrics_rows",
    "result_facts",
    "scan_facts",
    "segmentation_legend",
    "text_width_pt",
    "tidy",
    "wrap_to_width",
    "write_report",
]

#: Sections that go on page 1 with the key images, when present (in the report's order).
PAGE_ONE_SECTIONS = ("Patient and study", "AI result")


def _key_images(fig, report: Report, top: float, bottom: float) -> None:
    """The views with the heatmap (or without it, when the result is withheld), in one row."""
    views = report.views[:3]
    lut = heatmap_lut(report.colormap, report.threshold)
    withheld = bool(report.result_withheld)
    title = "Key images" if withheld else "Key images with heatmap"
    fig.text(_LABEL_X, top, title, fontsize=11, fontweight="bold", va="top", color="#1e5f9e")
    width = (_RIGHT_X - _LABEL_X) / max(len(views), 1)
    for c, view in enumerate(views):
        ax = fig.add_axes([_LABEL_X + c * width + 0.01, bottom + 0.03, width - 0.02, top - bottom - 0.07])
        _imshow_view(ax, view, report, heatmap=True, lut=lut)
        _label_plane(ax, view)
    if withheld:
        caption = f"No heatmap: {report.result_withheld}"
    else:
        caption = HEATMAP_CAPTION
    if report.convention:
        caption = _sentences(caption, f"Display convention: {report.convention}")
    _draw_caption(fig, bottom + 0.015, caption, size=7.5)


def _first_page(report: Report, pdf) -> list:
    """Page 1: identifiers (when given), the AI result and the key images; returns the other sections."""
    fig, y = _new_page(report, 1)
    rest = []
    for title, facts in report.sections:
        if title in PAGE_ONE_SECTIONS and not rest:
            y = _draw_section(fig, y, title, facts)
        else:
            rest.append((title, facts))
    _key_images(fig, report, top=y - 0.01, bottom=max(_bottom(report), y - 0.36))
    pdf.savefig(fig)
    return rest


def _fact_pages(report: Report, pdf, first_number: int, sections: list | None = None) -> int:
    """Draw the sections, flowing onto new pages when needed; returns the pages written."""
    bottom = _bottom(report)
    number = first_number
    fig, y = _new_page(report, number)
    for title, facts in report.sections if sections is None else sections:
        needed = 2 * _LINE + _LINE * sum(_fact_height(k, v) for k, v in facts[:2])
        if y - needed < bottom:
            pdf.savefig(fig)
            number += 1
            fig, y = _new_page(report, number)
        y = _section_title(fig, y, title)
        for label, value in facts:
            if y - _LINE * _fact_height(label, value) < bottom:
                pdf.savefig(fig)
                number += 1
                fig, y = _new_page(report, number)
            y = _draw_fact(fig, y, label, value)
        y -= 0.4 * _LINE
    pdf.savefig(fig)
    return number - first_number + 1


def _measurement_pages(report: Report, pdf, first_number: int) -> int:
    """The tables (measurements with references) and the growth charts; returns the pages written."""
    bottom = _bottom(report)
    number = first_number
    fig, y = _new_page(report, number)
    for table in report.tables:
        y = _section_title(fig, y, table.title)
        y = _draw_table_row(fig, y, table, table.columns, bold=True)
        fig.add_artist(_hline(fig, y + 0.2 * _LINE))
        for row in table.rows:
            if y - _LINE * _table_rows_height(table, row) < bottom:
                pdf.savefig(fig)
                number += 1
                fig, y = _new_page(report, number)
                y = _draw_table_row(fig, y, table, table.columns, bold=True)
            y = _draw_table_row(fig, y, table, row)
        y -= 0.3 * _LINE
        for note in table.notes:
            lines = wrap_to_width(note, _fraction_to_pt(_RIGHT_X - _LABEL_X), size=7.5)
            if y - _LINE * len(lines) < bottom:
                pdf.savefig(fig)
                number += 1
                fig, y = _new_page(report, number)
            y = _draw_caption(fig, y, note, size=7.5)
        y -= 0.5 * _LINE
    charts = list(report.charts)
    per_row, chart_h = 3, 0.17
    while charts:
        if y - (chart_h + 3 * _LINE) < bottom:
            pdf.savefig(fig)
            number += 1
            fig, y = _new_page(report, number)
        y = _section_title(fig, y, "Growth charts: reference by PMA (blue), this infant (red dot)")
        while charts and y - chart_h - 0.02 >= bottom:
            row, charts = charts[:per_row], charts[per_row:]
            width = (_RIGHT_X - _LABEL_X) / per_row
            for c, chart in enumerate(row):
                ax = fig.add_axes([_LABEL_X + c * width + 0.045, y - chart_h + 0.02, width - 0.07, chart_h - 0.05])
                _draw_growth_chart(ax, chart)
            y -= chart_h + 0.01
    pdf.savefig(fig)
    return number - first_number + 1


def _views_page(report: Report, pdf, number: int) -> None:
    fig, top = _new_page(report, number)
    views = report.views[:3]
    n = max(len(views), 1)
    lut = heatmap_lut(report.colormap, report.threshold)
    withheld = bool(report.result_withheld)
    left, right = _LABEL_X, 0.86
    width = (right - left) / n
    rows = (("Scan", False),) if withheld else (("Scan", False), ("Scan with heatmap", True))
    row_h = (top - 0.23) / 2
    for r, (row_title, with_overlay) in enumerate(rows):
        y0 = top - (r + 1) * row_h
        fig.text(_LABEL_X, y0 + row_h - 0.005, row_title, fontsize=10, fontweight="bold", va="top", color="#1e5f9e")
        for c, view in enumerate(views):
            ax = fig.add_axes([left + c * width + 0.01, y0 + 0.01, width - 0.02, row_h - 0.045])
            _imshow_view(ax, view, report, heatmap=with_overlay, lut=lut)
            if not withheld:
                _draw_marker(ax, view, size=12, width=1.2)
            _label_plane(ax, view)
    if not withheld:  # colour bar of the overlay, starting at the threshold
        cax = fig.add_axes([0.885, top - 2 * row_h + 0.02, 0.018, row_h - 0.06])
        above = lut[int(np.ceil(report.threshold * (lut.shape[0] - 1))) :]
        cax.imshow(
            above[:, None, :3].astype(float) / 255.0,
            origin="lower",
            aspect="auto",
            extent=(0, 1, report.threshold, 1.0),
        )
        cax.set_xticks([])
        cax.yaxis.tick_right()
        cax.set_yticks([report.threshold, 1.0])
        cax.set_yticklabels([f"{report.threshold:.2f}", "1.00"], fontsize=7)
        cax.set_title("Grad-CAM", fontsize=7)
    y = top - 2 * row_h - 0.02
    if withheld:
        y = _draw_caption(fig, y, f"No heatmap: {report.result_withheld}", size=8.0)
        _draw_caption(fig, y, f"Display convention: {report.convention}." if report.convention else "", size=8.0)
    else:
        for line in wrap_to_width(report.views_caption, _fraction_to_pt(_RIGHT_X - _LABEL_X), size=8.0):
            fig.text(_LABEL_X, y, line, fontsize=8, va="top")
            y -= _LINE
        _draw_caption(
            fig,
            y,
            _sentences(
                HEATMAP_CAPTION,
                f"Display convention: {report.convention}",
                f"Heatmap {report.colormap}, transparent below {report.threshold:.2f}, "
                f"opacity {100 * report.opacity:.0f} %",
            ),
            size=8.0,
        )
    pdf.savefig(fig)


def _finding_pages(report: Report, pdf, first_number: int) -> int:
    """Key images at each finding (three planes with the segmentation outlines), three findings a page."""
    per_page = 3
    number = first_number
    findings = list(report.finding_views)
    pages = 0
    while findings:
        chunk, findings = findings[:per_page], findings[per_page:]
        fig, top = _new_page(report, number)
        top = _section_title(fig, top, "Key images at each finding (segmentation outlines; the finding filled)")
        bottom = _bottom(report) + 0.03
        block = (top - bottom) / per_page
        for r, finding in enumerate(chunk):
            y_top = top - r * block
            fig.text(_LABEL_X, y_top, tidy(finding.title), fontsize=9.5, fontweight="bold", va="top")
            caption_lines = wrap_to_width(finding.caption, _fraction_to_pt(_RIGHT_X - _LABEL_X), size=7.5)[:3]
            for i, line in enumerate(caption_lines):
                fig.text(_LABEL_X, y_top - (i + 1) * _LINE * 0.9, line, fontsize=7.5, va="top", color="0.2")
            img_top = y_top - (len(caption_lines) + 1.3) * _LINE * 0.9
            views = finding.views[:3]
            width = (_RIGHT_X - _LABEL_X) / max(len(views), 1)
            for c, view in enumerate(views):
                ax = fig.add_axes(
                    [_LABEL_X + c * width + 0.01, y_top - block + 0.012, width - 0.02, img_top - (y_top - block) - 0.03]
                )
                _imshow_view(ax, view, report, heatmap=False)
                _draw_marker(ax, view, size=10, width=1.0)
                _label_plane(ax, view)
        _draw_caption(fig, _bottom(report) + 0.02, segmentation_legend(), size=7.0)
        pdf.savefig(fig)
        number += 1
        pages += 1
    return pages


def _draw_marker(ax, view, size: float, width: float) -> None:
    """A cyan + at the view's marker (the heatmap maximum or a finding, view mm); nothing when it has none."""
    if view.marker_mm is not None:
        ax.plot(
            [view.marker_mm[0]],
            [view.marker_mm[1]],
            marker="+",
            color="#00e5ff",
            markersize=size,
            markeredgewidth=width,
        )


def write_report(path: str | Path, report: Report) -> int:
    """Write ``report`` as a PDF at ``path`` atomically (the file appears whole or not at all).

    Returns
    -------
    int
        Number of pages written (3 for a typical report without segmentation: summary with key
        images, facts, slices; the measurements and the findings' key images add pages).
    """
    import logging

    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    # matplotlib subsets the embedded fonts with fontTools, which logs ~250 INFO lines per report
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    path = Path(path)
    with matplotlib.rc_context({"pdf.fonttype": 42, "font.family": _FONT}):
        with atomic_output(path) as tmp:
            metadata = {
                "Title": report.title,
                "Subject": "GloResNet second reader report",
                "Creator": "GloResNet second reader (model.record.report)",
                "Keywords": "research use only",
            }
            with PdfPages(tmp, metadata=metadata) as pdf:
                if report.views:  # page 1: identifiers, result, key images; measurements; the rest; planes; findings
                    rest = _first_page(report, pdf)
                    pages = 1
                    if report.tables or report.charts:
                        pages += _measurement_pages(report, pdf, pages + 1)
                    if rest:
                        pages += _fact_pages(report, pdf, pages + 1, rest)
                    _views_page(report, pdf, pages + 1)
                    pages += 1
                else:
                    pages = 0
                    if report.tables or report.charts:
                        pages += _measurement_pages(report, pdf, 1)
                    pages += _fact_pages(report, pdf, pages + 1)
                pages += _finding_pages(report, pdf, pages + 1)
    return pages
