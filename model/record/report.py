"""The reading report as PDF (matplotlib ``PdfPages``), and the heatmap colouring shared with the viewer.

A :class:`Report` is plain data: titled sections of (label, value) facts and a few
:class:`ReportView` slices. :func:`write_report` lays it out on A4 pages -- page 1 the facts (scan,
AI result, reader's decision, model card), page 2 the three planes through the heatmap maximum
without and with the overlay -- and writes the file atomically. The caller (the viewer) decides
which slices to show and how they are oriented (radiological or neurological), so the geometry has
one implementation (``viewer.display``); this module only draws.

:func:`heatmap_lut` is THE heatmap colouring: a perceptually uniform matplotlib colormap spread
over ``[threshold, 1]``, fully transparent below the threshold, with a short alpha ramp above it
so the map fades in instead of starting with a hard dark edge. The viewer's overlay, its colour
bar and the report use it, so the screen and the paper agree.

Nothing here imports Qt.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.record.audit import utc_now
from model.fileio import atomic_output

#: Colormaps offered for the heatmap (perceptually uniform, readable in greyscale print).
HEATMAP_COLORMAPS = ("inferno", "magma", "plasma", "viridis", "cividis")
#: Fraction of the range above the threshold over which the heatmap fades in (alpha 0 -> 1).
HEATMAP_FADE = 0.25
#: Default threshold: Grad-CAM values below it are transparent.
DEFAULT_HEATMAP_THRESHOLD = 0.15

HEATMAP_CAPTION = "Heatmap: where the model looked (Grad-CAM), not a lesion outline"
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


def heatmap_lut(colormap: str = "inferno", threshold: float = DEFAULT_HEATMAP_THRESHOLD, n: int = 256) -> np.ndarray:
    """RGBA lookup table for heatmap values 0..1: transparent below ``threshold``, colormap above.

    Entry ``i`` colours the value ``i / (n - 1)``. Values at or above the threshold take the
    colormap at ``(value - threshold) / (1 - threshold)``; alpha rises linearly from 0 at the
    threshold to 255 at ``threshold + HEATMAP_FADE * (1 - threshold)``.

    Parameters
    ----------
    colormap : str
        A matplotlib colormap name (:data:`HEATMAP_COLORMAPS`).
    threshold : float
        In [0, 1).
    n : int

    Returns
    -------
    np.ndarray, shape (n, 4), uint8

    Raises
    ------
    ValueError
        Unknown colormap or threshold outside [0, 1).
    """
    from matplotlib import colormaps

    if colormap not in colormaps:
        raise ValueError(f"unknown colormap {colormap!r}; use one of {HEATMAP_COLORMAPS}")
    threshold = float(threshold)
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    x = np.linspace(0.0, 1.0, n)
    span = 1.0 - threshold
    t = np.clip((x - threshold) / span, 0.0, 1.0)
    rgba = colormaps[colormap](t)
    alpha = np.clip(t / HEATMAP_FADE, 0.0, 1.0)
    alpha[x < threshold] = 0.0
    rgba[:, 3] = alpha
    return np.round(rgba * 255).astype(np.uint8)


def heatmap_rgba(values: np.ndarray, lut: np.ndarray, opacity: float = 1.0) -> np.ndarray:
    """Colour heatmap values (0..1, any shape) with a :func:`heatmap_lut`; float RGBA in [0, 1]."""
    n = lut.shape[0]
    index = np.clip(np.rint(np.asarray(values, dtype=float) * (n - 1)), 0, n - 1).astype(np.intp)
    out = lut[index].astype(float) / 255.0
    out[..., 3] *= float(opacity)
    return out


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
        facts.append(("qform / sform", f"qform {_xform_name(h.qform_code)}, sform {_xform_name(h.sform_code)}"
                      + ("; DISAGREE" if h.qform_sform_differ else "")))
        facts.append(("Obliquity", f"{np.degrees(h.obliquity_rad):.2f}°"
                      + ("; shown in the closest canonical orientation" if h.oblique else "")))
    facts.append(("SHA-256", volume.sha256 or "(not from a file)"))
    return facts


def result_facts(result) -> list:
    """An :class:`model.inference.AnalysisResult` as (label, value) text pairs."""
    p_id, p_flip = result.pass_probabilities
    return [
        ("P(injury)", format_probability(result.probability)),
        ("Call", f"{result.flag} (threshold {format_probability(result.threshold)}, "
                 f"indeterminate within ±{100 * result.indeterminate_band:.1f} points)"),
        ("Uncertainty", f"TTA disagreement {100 * result.disagreement:.1f} points "
                        f"(identity {format_probability(p_id)}, left-right flipped {format_probability(p_flip)})"),
        ("Model", f"{result.model_name} v{result.model_version}"
                  + ("  (demonstration weights)" if result.demonstration else "")),
        ("Weights SHA-256", result.weights_sha256),
        ("Computed on", result.device),
        *_ood_facts(result),
    ]


def _ood_facts(result) -> list:
    """The out-of-distribution verdict (model.ood) as report rows; none when the gate did not run."""
    verdict = getattr(result, "ood", None)
    if verdict is None:
        return []
    gate = (f"feature distance {verdict.score:.1f} (threshold {verdict.threshold:.1f})"
            if verdict.score is not None else "feature gate not fitted for these weights")
    if verdict.in_distribution:
        return [("Training domain", f"inside what these weights were trained on; {gate}")]
    return [("Training domain", f"OUTSIDE what these weights were trained on: {'; '.join(verdict.reasons)}. "
                                f"The probability is not a call. ({gate})")]


def card_facts(card) -> list:
    """A :class:`model.checkpoint.ModelCard` summary as (label, value) text pairs."""
    training = card.training or {}
    metrics = card.metrics or {}
    metric_text = ", ".join(
        f"{k} {v:.3g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else f"{k} {v}"
        for k, v in list(metrics.items())[:6]
    ) or "(none in the card)"
    facts = [
        ("Name, version", f"{card.name} v{card.version}" + ("  (demonstration)" if card.demonstration else "")),
        ("Architecture", f"{card.architecture}, classes {', '.join(card.classes)}"),
        ("Input", f"resampled to {' × '.join(str(n) for n in card.preprocessing.target_shape)}, z-scored"),
        ("Test-time augmentation", str(card.tta)),
        ("Decision threshold", f"{format_probability(card.decision_threshold)}, "
                               f"indeterminate band ±{100 * card.indeterminate_band:.1f} points"),
        ("Training data", str(training.get("data", "(not stated)"))),
        ("Metrics", metric_text),
        ("Created", card.created_utc or "(unknown)"),
        ("Intended use", card.intended_use),
    ]
    return facts


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
        fig.text(_LABEL_X, y, report.banner, fontsize=9, fontweight="bold", va="top",
                 bbox=dict(boxstyle="round,pad=0.4", facecolor="#f9a825", edgecolor="none"))
        y -= 0.035
    footer = textwrap.wrap(report.disclaimer, 120)
    for i, line in enumerate(footer):
        fig.text(_LABEL_X, 0.045 + _LINE * 0.8 * (len(footer) - 1 - i), line, fontsize=6.5, color="0.3", va="bottom")
    return fig, y


def _hline(fig, y):
    from matplotlib.lines import Line2D

    return Line2D([_LABEL_X, _RIGHT_X], [y, y], transform=fig.transFigure, color="0.6", linewidth=0.6)


def _fact_pages(report: Report, pdf, first_number: int) -> int:
    """Draw the sections, flowing onto new pages when needed; returns the pages written."""
    bottom = 0.045 + _LINE * 0.8 * len(textwrap.wrap(report.disclaimer, 120)) + 0.02
    number = first_number
    fig, y = _new_page(report, number)
    for title, facts in report.sections:
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
            ax.imshow(view.image, cmap=cmap, vmin=lo, vmax=hi, origin="lower", extent=view.extent_mm,
                      interpolation="nearest")
            if with_overlay and view.heatmap is not None:
                ax.imshow(heatmap_rgba(view.heatmap, lut, report.opacity), origin="lower", extent=view.extent_mm,
                          interpolation="nearest")
            if view.marker_mm is not None:
                ax.plot([view.marker_mm[0]], [view.marker_mm[1]], marker="+", color="#00e5ff", markersize=12,
                        markeredgewidth=1.2)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(view.title, fontsize=8.5)
            for edge, (x, y, ha, va) in {"left": (0.02, 0.5, "left", "center"), "right": (0.98, 0.5, "right", "center"),
                                         "top": (0.5, 0.98, "center", "top"),
                                         "bottom": (0.5, 0.02, "center", "bottom")}.items():
                ax.text(x, y, view.letters.get(edge, ""), transform=ax.transAxes, ha=ha, va=va, color="white",
                        fontsize=9, fontweight="bold")
    # colour bar of the overlay, starting at the threshold
    cax = fig.add_axes([0.885, top - 2 * row_h + 0.02, 0.018, row_h - 0.06])
    above = lut[int(np.ceil(report.threshold * (lut.shape[0] - 1))):]
    cax.imshow(above[:, None, :3].astype(float) / 255.0, origin="lower", aspect="auto",
               extent=(0, 1, report.threshold, 1.0))
    cax.set_xticks([])
    cax.yaxis.tick_right()
    cax.set_yticks([report.threshold, 1.0])
    cax.set_yticklabels([f"{report.threshold:.2f}", "1.00"], fontsize=7)
    cax.set_title("Grad-CAM", fontsize=7)
    y = top - 2 * row_h - 0.02
    for line in textwrap.wrap(report.views_caption, 110):
        fig.text(_LABEL_X, y, line, fontsize=8, va="top")
        y -= _LINE
    for line in textwrap.wrap(f"{HEATMAP_CAPTION}. Display convention: {report.convention}. "
                              f"Heatmap {report.colormap}, transparent below {report.threshold:.2f}, "
                              f"opacity {100 * report.opacity:.0f} %.", 110):
        fig.text(_LABEL_X, y, line, fontsize=8, va="top", style="italic", color="0.25")
        y -= _LINE
    pdf.savefig(fig)


def write_report(path: str | Path, report: Report) -> int:
    """Write ``report`` as a PDF at ``path`` atomically (the file appears whole or not at all).

    Returns
    -------
    int
        Number of pages written (2 for a typical report: facts, then the slices).
    """
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    path = Path(path)
    with matplotlib.rc_context({"pdf.fonttype": 42, "font.family": "DejaVu Sans"}):
        with atomic_output(path) as tmp:
            metadata = {"Title": report.title, "Subject": "GloResNet second reader report",
                        "Creator": "GloResNet second reader (model.record.report)", "Keywords": "research use only"}
            with PdfPages(tmp, metadata=metadata) as pdf:
                pages = _fact_pages(report, pdf, 1)
                if report.views:
                    _views_page(report, pdf, pages + 1)
                    pages += 1
    return pages
