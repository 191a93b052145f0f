"""The report's page layout and drawing primitives: text measured and wrapped, the page frame, facts,
captions, table rows, image panels with their overlays, growth charts, segmentation colours.

Part of the PDF report (:mod:`model.record.report` puts the pages together from these and
re-exports the public names here). Coordinates are fractions of an A4 portrait page (matplotlib
figure coordinates, y up); sizes are in points.

Text is wrapped to the width of its column as the PDF font measures it (a label never runs into its
value) and doubled full stops are removed (:func:`tidy`).

The heatmap is coloured by :func:`model.heatmap.heatmap_lut`, the same table as the viewer's
overlay and colour bar, so the screen and the paper agree; the segmentation by the colours of
:data:`model.segmentation.SEG_CLASSES`.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from model.heatmap import heatmap_lut, heatmap_rgba
from model.record.report_data import GrowthChart, Report, ReportTable, ReportView

#: Page size (inches).
A4_PORTRAIT_IN = (8.27, 11.69)


_LABEL_X, _VALUE_X, _RIGHT_X = 0.07, 0.30, 0.93
_LINE = 0.0165
_WRAP_CHARS = 78
_FONT = "DejaVu Sans"
_TEXT_SIZE = 8.5
#: Space kept between a label and its value (points).
_GAP_PT = 8.0


# -- text ------------------------------------------------------------------------------------------
_DOUBLED_STOP = re.compile(r"(?<![.])\.(\s*\.)+(?![.])")


def tidy(text) -> str:
    """``text`` with doubled full stops made single (``"reason.. Hash"``, ``"outline.."``); an
    ellipsis ``"..."`` is kept."""
    return _DOUBLED_STOP.sub(".", str(text))


@lru_cache(maxsize=8192)
def text_width_pt(text: str, size: float = _TEXT_SIZE, bold: bool = False) -> float:
    """Width of ``text`` in points as the report's font draws it (matplotlib ``TextPath``)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    if not text:
        return 0.0
    prop = FontProperties(family=_FONT, weight="bold" if bold else "normal")
    extents = TextPath((0, 0), text.replace("$", r"\$"), size=size, prop=prop).get_extents()
    return float(extents.x1 - min(extents.x0, 0.0))


def _fraction_to_pt(width_fraction: float) -> float:
    return width_fraction * A4_PORTRAIT_IN[0] * 72.0


def wrap_to_width(text, width_pt: float, size: float = _TEXT_SIZE, bold: bool = False) -> list[str]:
    """Break ``text`` into lines no wider than ``width_pt`` points (words kept whole where they fit;
    a word wider than the line, such as a hash, is broken)."""
    lines: list[str] = []
    for paragraph in tidy(text).splitlines() or [""]:
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if text_width_pt(candidate, size, bold) <= width_pt:
                current = candidate
                continue
            if current:
                lines.append(current)
            while text_width_pt(word, size, bold) > width_pt and len(word) > 1:
                n = len(word) - 1
                while n > 1 and text_width_pt(word[:n], size, bold) > width_pt:
                    n -= 1
                lines.append(word[:n])
                word = word[n:]
            current = word
        lines.append(current)
    return lines or [""]


def _label_lines(label) -> list[str]:
    return wrap_to_width(label, _fraction_to_pt(_VALUE_X - _LABEL_X) - _GAP_PT)


def _value_lines(value) -> list[str]:
    return wrap_to_width(value, _fraction_to_pt(_RIGHT_X - _VALUE_X))


def _fact_height(label, value) -> int:
    """Lines a fact takes: its label and its value side by side, each wrapped in its column."""
    return max(len(_label_lines(label)), len(_value_lines(value)))


def _draw_fact(fig, y: float, label, value) -> float:
    """One (label, value) row, each wrapped in its own column; returns the y under it."""
    labels, values = _label_lines(label), _value_lines(value)
    for i, line in enumerate(labels):
        fig.text(_LABEL_X, y - i * _LINE, line, fontsize=_TEXT_SIZE, color="0.3", va="top")
    for i, line in enumerate(values):
        fig.text(_VALUE_X, y - i * _LINE, line, fontsize=_TEXT_SIZE, va="top", family=_FONT)
    return y - _LINE * max(len(labels), len(values))


# -- page frame, sections, captions ---------------------------------------------------------------
def _new_page(report: Report, number: int):
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4_PORTRAIT_IN)
    fig.text(_LABEL_X, 0.955, report.title, fontsize=15, fontweight="bold", va="top")
    fig.text(_RIGHT_X, 0.955, f"page {number}", fontsize=8, color="0.4", ha="right", va="top")
    fig.text(_LABEL_X, 0.93, f"Generated {report.created_utc} (UTC)", fontsize=8, color="0.35", va="top")
    fig.add_artist(_hline(fig, 0.918))
    y = 0.905
    if report.banner:
        fig.text(
            _LABEL_X,
            y,
            tidy(report.banner),
            fontsize=9,
            fontweight="bold",
            va="top",
            bbox=dict(boxstyle="round,pad=0.4", facecolor="#f9a825", edgecolor="none"),
        )
        y -= 0.035
    footer = wrap_to_width(report.disclaimer, _fraction_to_pt(_RIGHT_X - _LABEL_X), size=6.5)
    for i, line in enumerate(footer):
        fig.text(_LABEL_X, 0.045 + _LINE * 0.8 * (len(footer) - 1 - i), line, fontsize=6.5, color="0.3", va="bottom")
    return fig, y


def _hline(fig, y):
    from matplotlib.lines import Line2D

    return Line2D([_LABEL_X, _RIGHT_X], [y, y], transform=fig.transFigure, color="0.6", linewidth=0.6)


def _bottom(report: Report) -> float:
    footer = wrap_to_width(report.disclaimer, _fraction_to_pt(_RIGHT_X - _LABEL_X), size=6.5)
    return 0.045 + _LINE * 0.8 * len(footer) + 0.02


def _section_title(fig, y: float, title: str) -> float:
    y -= 0.6 * _LINE
    fig.text(_LABEL_X, y, tidy(title), fontsize=11, fontweight="bold", va="top", color="#1e5f9e")
    return y - 1.3 * _LINE


def _draw_section(fig, y: float, title: str, facts) -> float:
    y = _section_title(fig, y, title)
    for label, value in facts:
        y = _draw_fact(fig, y, label, value)
    return y - 0.4 * _LINE


def _imshow_view(ax, view: ReportView, report: Report, heatmap: bool, lut=None) -> None:
    """Draw one view: the scan, then the heatmap (when asked and allowed), the segmentation outlines,
    the finding's voxels and the marker."""
    lo, hi = report.window
    ax.set_facecolor("black")
    ax.imshow(
        view.image,
        cmap="gray_r" if report.invert else "gray",
        vmin=lo,
        vmax=hi,
        origin="lower",
        extent=view.extent_mm,
        interpolation="nearest",
    )
    if heatmap and view.heatmap is not None and not report.result_withheld:
        ax.imshow(
            heatmap_rgba(
                view.heatmap, lut if lut is not None else heatmap_lut(report.colormap, report.threshold), report.opacity
            ),
            origin="lower",
            extent=view.extent_mm,
            interpolation="nearest",
        )
    if view.labels is not None:
        ax.imshow(label_outline_rgba(view.labels), origin="lower", extent=view.extent_mm, interpolation="nearest")
    if view.highlight is not None and np.any(view.highlight):
        ax.imshow(highlight_rgba(view.highlight), origin="lower", extent=view.extent_mm, interpolation="nearest")


def _sentences(*parts: str) -> str:
    """Join sentences with one full stop between them (none doubled)."""
    out = [str(p).strip().rstrip(".") for p in parts if p and str(p).strip()]
    return ". ".join(out) + ("." if out else "")


def _draw_caption(fig, y: float, text: str, size: float = 8.0, width=None) -> float:
    for line in wrap_to_width(text, _fraction_to_pt(width or (_RIGHT_X - _LABEL_X)), size=size):
        fig.text(_LABEL_X, y, line, fontsize=size, style="italic", color="0.25", va="top")
        y -= _LINE * size / _TEXT_SIZE
    return y


def _table_rows_height(table: ReportTable, row) -> int:
    text_width = _fraction_to_pt(_RIGHT_X - _LABEL_X)
    return max(len(wrap_to_width(cell, w * text_width - _GAP_PT, size=8.0)) for cell, w in zip(row, table.widths))


def _draw_table_row(fig, y: float, table: ReportTable, row, bold: bool = False) -> float:
    text_width = _fraction_to_pt(_RIGHT_X - _LABEL_X)
    x = _LABEL_X
    height = 1
    for cell, w in zip(row, table.widths):
        lines = wrap_to_width(cell, w * text_width - _GAP_PT, size=8.0, bold=bold)
        for i, line in enumerate(lines):
            fig.text(
                x,
                y - i * _LINE * 0.95,
                line,
                fontsize=8.0,
                va="top",
                fontweight="bold" if bold else "normal",
                family=_FONT,
            )
        height = max(height, len(lines))
        x += w * (_RIGHT_X - _LABEL_X)
    return y - _LINE * 0.95 * height - 0.15 * _LINE


def _draw_growth_chart(ax, chart: GrowthChart) -> None:
    """The reference by PMA (line; band of mean ± 2 SD where a spread is published; the reference at
    the infant's age as a bar) and this infant as a red dot."""
    ax.tick_params(labelsize=6.5)
    if chart.curve_pma:
        pma = np.asarray(chart.curve_pma, float)
        mean = np.asarray(chart.curve_mean, float)
        if chart.curve_sd:
            sd = np.asarray(chart.curve_sd, float)
            known = np.isfinite(sd)
            sd = np.where(known, sd, 0.0)
            ax.fill_between(pma, mean - 2 * sd, mean + 2 * sd, where=known, color="#90caf9", alpha=0.6, linewidth=0)
        ax.plot(pma, mean, color="#1e5f9e", linewidth=1.0)
    if chart.ref_mean is not None:
        if chart.ref_sd is not None:
            ax.errorbar(
                [chart.pma_weeks], [chart.ref_mean], yerr=[2 * chart.ref_sd], color="#1e5f9e", capsize=4, fmt="s", ms=3
            )
        else:
            ax.plot([chart.pma_weeks], [chart.ref_mean], "s", color="#1e5f9e", ms=3)
    ax.plot([chart.pma_weeks], [chart.value], "o", color="#d32f2f", ms=5, zorder=5)
    ax.set_title(f"{chart.name} ({chart.unit})", fontsize=7.5)
    ax.set_xlabel("PMA (weeks)", fontsize=6.5)
    ax.text(0.02, 0.97, tidy(chart.source), transform=ax.transAxes, fontsize=5, va="top", color="0.3")


# -- segmentation colours ----------------------------------------------------------------------------
def _label_lut() -> np.ndarray:
    from model.segmentation import SEG_CLASSES

    lut = np.zeros((256, 4), float)
    for c in SEG_CLASSES:
        if c.value == 0:
            continue
        lut[c.value, :3] = np.asarray(c.colour, float) / 255.0
        lut[c.value, 3] = 1.0
    return lut


def label_outline_rgba(labels: np.ndarray, alpha: float = 0.9) -> np.ndarray:
    """RGBA image of the outlines of every label (pixels whose 4-neighbour has another label), coloured
    by :data:`model.segmentation.SEG_CLASSES`; the inside stays transparent (the anatomy is not hidden)."""
    lab = np.asarray(labels).astype(np.intp)
    edge = np.zeros(lab.shape, bool)
    edge[1:, :] |= lab[1:, :] != lab[:-1, :]
    edge[:-1, :] |= lab[:-1, :] != lab[1:, :]
    edge[:, 1:] |= lab[:, 1:] != lab[:, :-1]
    edge[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    edge &= lab > 0
    out = _label_lut()[np.clip(lab, 0, 255)]
    out[..., 3] = np.where(edge, out[..., 3] * alpha, 0.0)
    return out


def highlight_rgba(mask: np.ndarray) -> np.ndarray:
    """RGBA image: the finding's voxels filled in translucent cyan."""
    m = np.asarray(mask, bool)
    out = np.zeros((*m.shape, 4), float)
    out[m] = (0.0, 0.9, 1.0, 0.45)
    return out


def segmentation_legend() -> str:
    """One line naming the outline colours (the label table of :mod:`model.segmentation`)."""
    from model.segmentation import SEG_CLASSES

    names = {
        (220, 180, 140): "tan",
        (245, 245, 245): "white",
        (60, 120, 240): "blue",
        (230, 148, 34): "orange",
        (0, 118, 14): "green",
        (255, 230, 0): "yellow",
        (255, 0, 0): "red",
        (120, 18, 134): "purple",
        (120, 120, 120): "grey",
    }
    parts = [f"{c.name} {names.get(tuple(c.colour), 'coloured')}" for c in SEG_CLASSES if c.value != 0]
    return "Outlines: " + ", ".join(parts) + "; the finding is filled in cyan, + marks its centre."


_EDGE_POSITIONS = {
    "left": (0.02, 0.5, "left", "center"),
    "right": (0.98, 0.5, "right", "center"),
    "top": (0.5, 0.98, "center", "top"),
    "bottom": (0.5, 0.02, "center", "bottom"),
}


def _label_plane(ax, view) -> None:
    """Title and orientation letters (on all four edges) of one plane's axes in the PDF."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(view.title, fontsize=8.5)
    for edge, (x, y, ha, va) in _EDGE_POSITIONS.items():
        ax.text(
            x,
            y,
            view.letters.get(edge, ""),
            transform=ax.transAxes,
            ha=ha,
            va=va,
            color="white",
            fontsize=9,
            fontweight="bold",
        )
