"""The reading report as PDF (matplotlib ``PdfPages``).

A :class:`Report` is plain data: titled sections of (label, value) facts and a few
:class:`ReportView` slices. :func:`write_report` lays it out on A4 pages -- page 1 the patient and
study identifiers (when given), the AI result and the key images with the heatmap; then the other
facts (reader's decision, scan, model card with its metrics as rows); last the three planes through
the heatmap maximum without and with the overlay -- and writes the file atomically. The caller (the viewer) decides
which slices to show and how they are oriented (radiological or neurological), so the geometry has
one implementation (``viewer.display``); this module only draws.

The heatmap is coloured by :func:`model.heatmap.heatmap_lut`, the same table as the viewer's
overlay and colour bar, so the screen and the paper agree.

Nothing here imports Qt.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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
    "of brain injury on a T2-weighted MRI of a preterm infant. It does not diagnose, it does not outline "
    "lesions, and it must not replace the radiologist's report. The heatmap (Grad-CAM) shows which regions "
    "influenced the model's output; it is not a segmentation of injury."
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


def result_facts(result) -> list:
    """An :class:`model.inference.AnalysisResult` as (label, value) text pairs."""
    p_id, p_flip = result.pass_probabilities
    return [
        ("P(injury)", format_probability(result.probability)),
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
        (
            "Model",
            f"{result.model_name} v{result.model_version}"
            + ("  (demonstration weights)" if result.demonstration else ""),
        ),
        ("Weights SHA-256", result.weights_sha256),
        ("Computed on", result.device),
        *_ood_facts(result),
    ]


def _ood_facts(result) -> list:
    """The out-of-distribution verdict (model.ood) as report rows; none when the gate did not run."""
    verdict = getattr(result, "ood", None)
    if verdict is None:
        return []
    gate = (
        f"feature distance {verdict.score:.1f} (threshold {verdict.threshold:.1f})"
        if verdict.score is not None
        else "feature gate not fitted for these weights"
    )
    if verdict.in_distribution:
        return [("Training domain", f"inside what these weights were trained on; {gate}")]
    return [
        (
            "Training domain",
            f"OUTSIDE what these weights were trained on: {'; '.join(verdict.reasons)}. "
            f"The probability is not a call. ({gate})",
        )
    ]


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
        Where to mark the heatmap maximum, in the same mm coordinates.
    """

    title: str
    image: np.ndarray
    heatmap: np.ndarray | None
    extent_mm: tuple
    letters: dict
    marker_mm: tuple | None = None


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


_LABEL_X, _VALUE_X, _RIGHT_X = 0.07, 0.30, 0.93
_LINE = 0.0165
_WRAP_CHARS = 78


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
            report.banner,
            fontsize=9,
            fontweight="bold",
            va="top",
            bbox=dict(boxstyle="round,pad=0.4", facecolor="#f9a825", edgecolor="none"),
        )
        y -= 0.035
    footer = textwrap.wrap(report.disclaimer, 120)
    for i, line in enumerate(footer):
        fig.text(_LABEL_X, 0.045 + _LINE * 0.8 * (len(footer) - 1 - i), line, fontsize=6.5, color="0.3", va="bottom")
    return fig, y


def _hline(fig, y):
    from matplotlib.lines import Line2D

    return Line2D([_LABEL_X, _RIGHT_X], [y, y], transform=fig.transFigure, color="0.6", linewidth=0.6)


#: Sections that go on page 1 with the key images, when present (in the report's order).
PAGE_ONE_SECTIONS = ("Patient and study", "AI result")


def _bottom(report: Report) -> float:
    return 0.045 + _LINE * 0.8 * len(textwrap.wrap(report.disclaimer, 120)) + 0.02


def _draw_section(fig, y: float, title: str, facts) -> float:
    y -= 0.6 * _LINE
    fig.text(_LABEL_X, y, title, fontsize=11, fontweight="bold", va="top", color="#1e5f9e")
    y -= 1.3 * _LINE
    for label, value in facts:
        fig.text(_LABEL_X, y, label, fontsize=8.5, color="0.3", va="top")
        for line in textwrap.wrap(str(value), _WRAP_CHARS) or [""]:
            fig.text(_VALUE_X, y, line, fontsize=8.5, va="top", family="DejaVu Sans")
            y -= _LINE
    return y - 0.4 * _LINE


def _key_images(fig, report: Report, top: float, bottom: float) -> None:
    """The views with the heatmap, in one row between ``top`` and ``bottom`` (figure fraction)."""
    views = report.views[:3]
    lut = heatmap_lut(report.colormap, report.threshold)
    lo, hi = report.window
    fig.text(_LABEL_X, top, "Key images with heatmap", fontsize=11, fontweight="bold", va="top", color="#1e5f9e")
    width = (_RIGHT_X - _LABEL_X) / max(len(views), 1)
    for c, view in enumerate(views):
        ax = fig.add_axes([_LABEL_X + c * width + 0.01, bottom + 0.03, width - 0.02, top - bottom - 0.07])
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
        if view.heatmap is not None:
            ax.imshow(
                heatmap_rgba(view.heatmap, lut, report.opacity),
                origin="lower",
                extent=view.extent_mm,
                interpolation="nearest",
            )
        _label_plane(ax, view)
    caption = HEATMAP_CAPTION + (f". Display convention: {report.convention}" if report.convention else "")
    fig.text(_LABEL_X, bottom + 0.015, caption + ".", fontsize=7.5, style="italic", color="0.25", va="top")


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
        needed = 2 * _LINE + _LINE * sum(len(textwrap.wrap(str(v), _WRAP_CHARS)) or 1 for _, v in facts[:2])
        if y - needed < bottom:
            pdf.savefig(fig)
            number += 1
            fig, y = _new_page(report, number)
        y -= 0.6 * _LINE
        fig.text(_LABEL_X, y, title, fontsize=11, fontweight="bold", va="top", color="#1e5f9e")
        y -= 1.3 * _LINE
        for label, value in facts:
            lines = textwrap.wrap(str(value), _WRAP_CHARS) or [""]
            if y - _LINE * len(lines) < bottom:
                pdf.savefig(fig)
                number += 1
                fig, y = _new_page(report, number)
            fig.text(_LABEL_X, y, label, fontsize=8.5, color="0.3", va="top")
            for line in lines:
                fig.text(_VALUE_X, y, line, fontsize=8.5, va="top", family="DejaVu Sans")
                y -= _LINE
        y -= 0.4 * _LINE
    pdf.savefig(fig)
    return number - first_number + 1


def _views_page(report: Report, pdf, number: int) -> None:
    fig, top = _new_page(report, number)
    views = report.views[:3]
    n = max(len(views), 1)
    lut = heatmap_lut(report.colormap, report.threshold)
    lo, hi = report.window
    cmap = "gray_r" if report.invert else "gray"
    left, right = _LABEL_X, 0.86
    width = (right - left) / n
    rows = (("Scan", False), ("Scan with heatmap", True))
    row_h = (top - 0.23) / 2
    for r, (row_title, with_overlay) in enumerate(rows):
        y0 = top - (r + 1) * row_h
        fig.text(_LABEL_X, y0 + row_h - 0.005, row_title, fontsize=10, fontweight="bold", va="top", color="#1e5f9e")
        for c, view in enumerate(views):
            ax = fig.add_axes([left + c * width + 0.01, y0 + 0.01, width - 0.02, row_h - 0.045])
            ax.set_facecolor("black")
            ax.imshow(
                view.image, cmap=cmap, vmin=lo, vmax=hi, origin="lower", extent=view.extent_mm, interpolation="nearest"
            )
            if with_overlay and view.heatmap is not None:
                ax.imshow(
                    heatmap_rgba(view.heatmap, lut, report.opacity),
                    origin="lower",
                    extent=view.extent_mm,
                    interpolation="nearest",
                )
            if view.marker_mm is not None:
                ax.plot(
                    [view.marker_mm[0]],
                    [view.marker_mm[1]],
                    marker="+",
                    color="#00e5ff",
                    markersize=12,
                    markeredgewidth=1.2,
                )
            _label_plane(ax, view)
    # colour bar of the overlay, starting at the threshold
    cax = fig.add_axes([0.885, top - 2 * row_h + 0.02, 0.018, row_h - 0.06])
    above = lut[int(np.ceil(report.threshold * (lut.shape[0] - 1))) :]
    cax.imshow(
        above[:, None, :3].astype(float) / 255.0, origin="lower", aspect="auto", extent=(0, 1, report.threshold, 1.0)
    )
    cax.set_xticks([])
    cax.yaxis.tick_right()
    cax.set_yticks([report.threshold, 1.0])
    cax.set_yticklabels([f"{report.threshold:.2f}", "1.00"], fontsize=7)
    cax.set_title("Grad-CAM", fontsize=7)
    y = top - 2 * row_h - 0.02
    for line in textwrap.wrap(report.views_caption, 110):
        fig.text(_LABEL_X, y, line, fontsize=8, va="top")
        y -= _LINE
    for line in textwrap.wrap(
        f"{HEATMAP_CAPTION}. Display convention: {report.convention}. "
        f"Heatmap {report.colormap}, transparent below {report.threshold:.2f}, "
        f"opacity {100 * report.opacity:.0f} %.",
        110,
    ):
        fig.text(_LABEL_X, y, line, fontsize=8, va="top", style="italic", color="0.25")
        y -= _LINE
    pdf.savefig(fig)


def write_report(path: str | Path, report: Report) -> int:
    """Write ``report`` as a PDF at ``path`` atomically (the file appears whole or not at all).

    Returns
    -------
    int
        Number of pages written (3 for a typical report: summary with key images, facts, slices).
    """
    import logging

    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    # matplotlib subsets the embedded fonts with fontTools, which logs ~250 INFO lines per report
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    path = Path(path)
    with matplotlib.rc_context({"pdf.fonttype": 42, "font.family": "DejaVu Sans"}):
        with atomic_output(path) as tmp:
            metadata = {
                "Title": report.title,
                "Subject": "GloResNet second reader report",
                "Creator": "GloResNet second reader (model.record.report)",
                "Keywords": "research use only",
            }
            with PdfPages(tmp, metadata=metadata) as pdf:
                if report.views:  # page 1: identifiers, result, key images; then the rest; then the planes
                    rest = _first_page(report, pdf)
                    pages = 1 + (_fact_pages(report, pdf, 2, rest) if rest else 0)
                    _views_page(report, pdf, pages + 1)
                    pages += 1
                else:
                    pages = _fact_pages(report, pdf, 1)
    return pages


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
