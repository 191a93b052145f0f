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

What an out-of-distribution result may show is decided by :func:`model.disclosure.may_show_result`
(issue 30): :func:`result_facts` gives no probability, call or TTA passes for such a scan unless the
reader asked to see them anyway, and a report whose ``result_withheld`` is set draws its key images
without the heatmap.

Text is wrapped to the width of its column as the PDF font measures it (a label never runs into its
value) and doubled full stops are removed (:func:`tidy`).

The heatmap is coloured by :func:`model.heatmap.heatmap_lut`, the same table as the viewer's
overlay and colour bar, so the screen and the paper agree; the segmentation by the colours of
:data:`model.segmentation.SEG_CLASSES`.

Nothing here imports Qt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from model.disclosure import is_out_of_distribution, may_show_result
from model.fileio import atomic_output
from model.heatmap import (  # noqa: F401 - HEATMAP_COLORMAPS, heatmap_lut re-exported for older imports
    DEFAULT_HEATMAP_THRESHOLD,
    HEATMAP_CAPTION,
    HEATMAP_COLORMAPS,
    heatmap_lut,
    heatmap_rgba,
)
from model.timestamps import utc_now

DISCLAIMER = (
    "Research use only. This report was produced by a second-reader program that estimates the probability "
    "of brain injury on a T2-weighted MRI of a preterm infant and, with weights that segment, measures tissue "
    "volumes and marks focal lesions. It does not diagnose and must not replace the radiologist's report: every "
    "measurement and finding is the program's, to be checked on the images. The heatmap (Grad-CAM) shows which "
    "regions influenced the model's output; it is not a segmentation of injury."
)

A4_PORTRAIT_IN = (8.27, 11.69)


def format_probability(p: float) -> str:
    """P(injury) as shown everywhere: a percentage with one decimal, e.g. ``0.4567 -> '45.7 %'``."""
    return f"{100.0 * float(p):.1f} %"


# -- facts as text -------------------------------------------------------------------------------
def _xform_name(code: int) -> str:
    import nibabel as nib

    try:
        return f"{code} ({nib.nifti1.xform_codes.label[int(code)]})"
    except KeyError:
        return f"{code} (not a NIfTI code)"


def scan_facts(volume, name: str | None = None) -> list:
    """What a reader checks about a scan file, as (label, value) text pairs.

    Parameters
    ----------
    volume : model.volume.Volume
    name : str, optional
        Display name (used when the volume has no path, e.g. the simulated sample).
    """
    h = volume.header
    facts = [("File", str(volume.path) if volume.path is not None else (name or "(made in memory)"))]
    facts.append(("Shape (RAS+)", " × ".join(str(n) for n in volume.shape) + " voxels"))
    facts.append(("Voxel size", " × ".join(f"{s:.3g}" for s in volume.spacing_mm) + " mm"))
    if h is not None:
        facts.append(("Stored as", f"{''.join(h.axcodes)}, shape {' × '.join(str(n) for n in h.shape)}; shown as RAS+"))
        if h.scl_slope is None or (h.scl_slope in (0.0, 1.0) and not h.scl_inter):
            scaling = "no scaling"
        else:
            scaling = f"scaled × {h.scl_slope:g} + {h.scl_inter or 0:g}"
        facts.append(("Data type", f"{h.dtype}, {scaling}"))
        facts.append(
            (
                "qform / sform",
                f"qform {_xform_name(h.qform_code)}, sform {_xform_name(h.sform_code)}"
                + ("; DISAGREE" if h.qform_sform_differ else ""),
            )
        )
        if not getattr(h, "orientation_known", True):
            facts.append(
                ("Orientation", "NOT IN THE HEADER (qform and sform codes 0): directions and left/right are assumed")
            )
        elif getattr(h, "left_right_conflict", False):
            facts.append(("Orientation", "qform and sform DISAGREE about left and right; the sform was used"))
        facts.append(
            (
                "Obliquity",
                f"{np.degrees(h.obliquity_rad):.2f}°"
                + ("; shown in the closest canonical orientation" if h.oblique else ""),
            )
        )
    facts.append(("SHA-256", volume.sha256 or "(not from a file)"))
    if volume.extra.get("dicom") is not None:  # issue 9: what the hash of a DICOM series covers
        facts.append(
            ("Hash of", "the series' DICOM pixel data and geometry, not its names or dates (model.dicom.series_hash)")
        )
        facts.append(
            (
                "Converted by",
                volume.extra.get("converter", "dcm2niix")
                + (
                    "; " + "; ".join(volume.extra["converter_warnings"])
                    if volume.extra.get("converter_warnings")
                    else ""
                ),
            )
        )
    return facts


def result_facts(result, show_anyway: bool = False) -> list:
    """An :class:`model.inference.AnalysisResult` as (label, value) text pairs.

    For a scan outside the training domain (:func:`model.disclosure.may_show_result` False) there
    is no probability, call or TTA pass: the rows say that none is given and why. With
    ``show_anyway`` the numbers are given, each marked as not a call.
    """
    shown = may_show_result(result, show_anyway)
    ood = is_out_of_distribution(result)
    p_id, p_flip = result.pass_probabilities
    if shown:
        not_a_call = " (NOT A CALL: outside what these weights were trained on; shown at the reader's request)"
        facts = [
            ("P(injury)", format_probability(result.probability) + (not_a_call if ood else "")),
            (
                "Call",
                f"{result.flag} (threshold {format_probability(result.decision_threshold)}, "
                f"indeterminate within ±{100 * result.indeterminate_band:.1f} points)",
            ),
            (
                "Uncertainty",
                f"TTA disagreement {100 * result.disagreement:.1f} points "
                f"(identity {format_probability(p_id)}, left-right flipped {format_probability(p_flip)})",
            ),
            *_fusion_facts(result),
        ]
    else:
        facts = [
            ("P(injury)", "not given: the scan is outside what these weights were trained on"),
            ("Call", f"{result.flag}: no call, and no heatmap, measurements or findings as results"),
        ]
    facts += [
        (
            "Model",
            f"{result.model_name} v{result.model_version}"
            + ("  (demonstration weights)" if result.demonstration else ""),
        ),
        ("Weights SHA-256", result.weights_sha256),
        ("Computed on", result.device),
        *_ood_facts(result),
    ]
    return facts


def _fusion_facts(result) -> list:
    """The fused call's parts (model.fusion), when the card's fusion made the call."""
    p_classifier = getattr(result, "p_classifier", None)
    if p_classifier is None:
        return []
    facts = [
        ("Classifier alone", f"P(injury) {format_probability(p_classifier)}; the call fuses it with the measurements")
    ]
    drivers = list(getattr(result, "call_drivers", []) or [])[:4]
    if drivers:
        facts.append(
            (
                "What drives the call",
                "; ".join(
                    f"{d.get('name', d.get('feature', ''))} {float(d.get('contribution', 0.0)):+.2f}" for d in drivers
                ),
            )
        )
    return facts


def _ood_facts(result) -> list:
    """The out-of-distribution verdict (model.ood) as report rows; none when the gate did not run.

    Each number is said once: a feature-distance reason already names the distance and threshold,
    so they are not repeated in brackets after it.
    """
    verdict = getattr(result, "ood", None)
    if verdict is None:
        return []
    if verdict.score is not None:
        gate = f"feature distance {verdict.score:.1f}, threshold {verdict.threshold:.1f}"
    else:
        gate = "feature gate not fitted for these weights"
    if verdict.in_distribution:
        return [("Training domain", f"inside what these weights were trained on; {gate}")]
    reasons = [str(r).strip().rstrip(".") for r in verdict.reasons]
    said = " ".join(reasons)
    parts = list(reasons)
    if verdict.score is None or f"{verdict.score:.1f}" not in said:
        parts.append(gate)
    return [("Training domain", "OUTSIDE what these weights were trained on: " + "; ".join(parts))]


def card_facts(card) -> list:
    """A :class:`model.checkpoint.ModelCard` summary as (label, value) text pairs."""
    training = card.training or {}
    metric_rows = metrics_rows(card.metrics or {}) or [("Metrics", "(none in the card)")]
    facts = [
        ("Name, version", f"{card.name} v{card.version}" + ("  (demonstration)" if card.demonstration else "")),
        ("Architecture", f"{card.architecture}, classes {', '.join(card.classes)}"),
        (
            "Input",
            ("cropped to the head box, " if card.preprocessing.crop == "head" else "")
            + f"resampled to {' × '.join(str(n) for n in card.preprocessing.target_shape)}, z-scored",
        ),
        ("Test-time augmentation", str(card.tta)),
        (
            "Decision threshold",
            f"{format_probability(card.decision_threshold)}, "
            f"indeterminate band ±{100 * card.indeterminate_band:.1f} points",
        ),
        ("Training data", str(training.get("data", "(not stated)"))),
        *metric_rows,
        ("Created", card.created_utc or "(unknown)"),
        ("Intended use", card.intended_use),
    ]
    return facts


_METRIC_NAMES = {"auc": "AUC", "mcc": "MCC", "f1": "F1", "ppv": "PPV", "npv": "NPV"}


def _metric_name(key: str) -> str:
    return _METRIC_NAMES.get(str(key).lower(), str(key).replace("_", " ").capitalize())


def _number(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def metrics_rows(metrics: dict) -> list:
    """A model card's ``metrics`` as readable (label, value) rows: a table, not a Python dict.

    A training run's card (:mod:`model.training.train`) holds ``summary`` (pooled out-of-fold),
    ``mean_sd_over_folds`` and ``bootstrap_95ci_pooled`` per metric: these become one row per metric,
    e.g. ``("AUC", "0.818 pooled out-of-fold; 0.822 ± 0.100 over folds; 95 % CI 0.722–0.900")``.
    Text entries (``evaluation``) become their own row; other nested entries one row each with
    their fields; bare numbers one row each.
    """
    rows = []
    summary = metrics.get("summary") if isinstance(metrics.get("summary"), dict) else {}
    spread = metrics.get("mean_sd_over_folds") if isinstance(metrics.get("mean_sd_over_folds"), dict) else {}
    ci = metrics.get("bootstrap_95ci_pooled") if isinstance(metrics.get("bootstrap_95ci_pooled"), dict) else {}
    for key in list(summary) + [k for k in spread if k not in summary]:
        parts = []
        if isinstance(summary.get(key), (int, float)):
            parts.append(f"{summary[key]:.3f} pooled out-of-fold")
        m = spread.get(key)
        if isinstance(m, dict) and "mean" in m:
            parts.append(f"{m['mean']:.3f} ± {m.get('sd', float('nan')):.3f} over folds")
        c = ci.get(key)
        if isinstance(c, (list, tuple)) and len(c) == 2:
            parts.append(f"95 % CI {c[0]:.3f}–{c[1]:.3f}")
        rows.append((_metric_name(key), "; ".join(parts)))
    for key, value in metrics.items():
        if key in ("summary", "mean_sd_over_folds", "bootstrap_95ci_pooled"):
            continue
        if isinstance(value, dict):
            fields = {k: v for k, v in value.items() if not isinstance(v, (dict, list))}
            text = "; ".join(f"{str(k).replace('_', ' ')} {_number(v)}" for k, v in fields.items())
            rows.append((_metric_name(key), text))
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            rows.append((_metric_name(key), str(value)))
        else:
            rows.append((_metric_name(key), _number(float(value))))
    return rows


# -- the report ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportView:
    """One slice for the report, already oriented by the caller.

    Attributes
    ----------
    title : str
        E.g. ``"Axial  k 63"``.
    image : np.ndarray, shape (rows, cols)
        Scan intensities; row 0 is drawn at the bottom.
    heatmap : np.ndarray or None, shape (rows, cols)
        Heatmap values 0..1 to overlay (already masked to the head by the caller).
    extent_mm : (float, float, float, float)
        ``(left, right, bottom, top)`` of the image in mm as matplotlib ``imshow`` takes it; a
        left value larger than the right one mirrors the image (radiological convention).
    letters : dict
        Patient direction at the ``left``, ``right``, ``top`` and ``bottom`` edges.
    marker_mm : (float, float) or None
        Where to mark the heatmap maximum (or a finding), in the same mm coordinates.
    labels : np.ndarray or None, shape (rows, cols)
        Label values (:data:`model.segmentation.SEG_CLASSES`) to draw as outlines.
    highlight : np.ndarray or None, shape (rows, cols), bool
        The finding's own voxels, filled and outlined in a bright colour.
    """

    title: str
    image: np.ndarray
    heatmap: np.ndarray | None
    extent_mm: tuple
    letters: dict
    marker_mm: tuple | None = None
    labels: np.ndarray | None = None
    highlight: np.ndarray | None = None


@dataclass(frozen=True)
class ReportTable:
    """A table on the report (the measurements): a title, column headers, rows of text, notes under it.

    ``widths`` are the columns' fractions of the text width (they sum to 1); cells wrap within them.
    """

    title: str
    columns: tuple
    rows: list
    widths: tuple
    notes: list = field(default_factory=list)


@dataclass(frozen=True)
class GrowthChart:
    """One measure against its age reference: the reference by post-menstrual age and this infant.

    Attributes
    ----------
    name, unit, source : str
        The measure ("Ventricles"), its unit ("ml") and the reference's source (named on the chart).
    pma_weeks, value : float
        This infant.
    curve_pma, curve_mean, curve_sd : tuple of float
        The reference over PMA (band mean ± 2 SD where ``curve_sd`` is given); empty when only the
        reference at the infant's age is known (then ``ref_mean`` / ``ref_sd`` are drawn there).
    ref_mean, ref_sd : float or None
        The reference at ``pma_weeks``.
    """

    name: str
    unit: str
    source: str
    pma_weeks: float
    value: float
    curve_pma: tuple = ()
    curve_mean: tuple = ()
    curve_sd: tuple = ()
    ref_mean: float | None = None
    ref_sd: float | None = None


@dataclass(frozen=True)
class FindingView:
    """Key images at one finding: its title, a caption (size, location, evidence) and three planes."""

    title: str
    caption: str
    views: list


@dataclass
class Report:
    """Everything on the report; see :func:`write_report`.

    Attributes
    ----------
    sections : list of (str, list of (str, str))
        Titled groups of facts, in order (e.g. "AI result", "Reader", "Scan", "Model").
    views : list of ReportView
        Up to three slices (drawn without and with the heatmap).
    window : (float, float)
        Grey levels (low, high) of the scan images.
    invert : bool
        White-on-black (False) or black-on-white (True) greyscale.
    colormap, threshold, opacity
        Heatmap colouring (:func:`heatmap_lut`) and opacity 0..1.
    banner : str
        Shown in a coloured box under the title when not empty (e.g. demonstration weights).
    convention : str
        E.g. "radiological (patient left on image right)".
    result_withheld : str
        When not empty, the result may not be shown (:func:`model.disclosure.may_show_result`): the
        key images are drawn without the heatmap and this text says why.
    tables : list of ReportTable
        The measurements with their references (after page 1).
    charts : list of GrowthChart
        Growth charts, drawn after the tables.
    finding_views : list of FindingView
        Key images at each finding with the segmentation overlay (last pages).
    """

    title: str
    sections: list
    views: list = field(default_factory=list)
    window: tuple = (0.0, 1.0)
    invert: bool = False
    colormap: str = "inferno"
    threshold: float = DEFAULT_HEATMAP_THRESHOLD
    opacity: float = 0.6
    banner: str = ""
    convention: str = ""
    views_caption: str = ""
    disclaimer: str = DISCLAIMER
    created_utc: str = field(default_factory=utc_now)
    result_withheld: str = ""
    tables: list = field(default_factory=list)
    charts: list = field(default_factory=list)
    finding_views: list = field(default_factory=list)


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


# -- pages -----------------------------------------------------------------------------------------
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


#: Sections that go on page 1 with the key images, when present (in the report's order).
PAGE_ONE_SECTIONS = ("Patient and study", "AI result")


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


def _sentences(*parts: str) -> str:
    """Join sentences with one full stop between them (none doubled)."""
    out = [str(p).strip().rstrip(".") for p in parts if p and str(p).strip()]
    return ". ".join(out) + ("." if out else "")


def _draw_caption(fig, y: float, text: str, size: float = 8.0, width=None) -> float:
    for line in wrap_to_width(text, _fraction_to_pt(width or (_RIGHT_X - _LABEL_X)), size=size):
        fig.text(_LABEL_X, y, line, fontsize=size, style="italic", color="0.25", va="top")
        y -= _LINE * size / _TEXT_SIZE
    return y


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
            if view.marker_mm is not None and not withheld:
                ax.plot(
                    [view.marker_mm[0]],
                    [view.marker_mm[1]],
                    marker="+",
                    color="#00e5ff",
                    markersize=12,
                    markeredgewidth=1.2,
                )
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
                if view.marker_mm is not None:
                    ax.plot(
                        [view.marker_mm[0]],
                        [view.marker_mm[1]],
                        marker="+",
                        color="#00e5ff",
                        markersize=10,
                        markeredgewidth=1.0,
                    )
                _label_plane(ax, view)
        _draw_caption(fig, _bottom(report) + 0.02, segmentation_legend(), size=7.0)
        pdf.savefig(fig)
        number += 1
        pages += 1
    return pages


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
