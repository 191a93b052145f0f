"""The reading report's parts that do not need the viewer: the segmentation pages, the out-of-distribution
rule, and the whole report for the command line (issues 29 and 30).

* :func:`complete_report` takes a :class:`model.record.report.Report` built by the app
  (``viewer.controllers.export_content.build_report``) or by :func:`build_reading_report`, applies the one rule of
  :func:`model.disclosure.may_show_result` (no probability, call, heatmap or anything read off the
  heatmap for an out-of-distribution scan unless the reader asked to see it anyway; then neither
  measurements nor findings as results) and adds what the segmentation gives: the measurements
  table with the references at the infant's PMA (or "PMA unknown"), a growth chart per referenced
  measure, the findings, and key images at each finding with the segmentation outlines. So the app,
  ``python -m model.predict --report`` and ``python -m model.score --reports`` write the same report.
* :func:`build_reading_report` is the command line's report: the same sections as the app's
  (AI result, scan, model card), slices through the heatmap maximum inside the head in the
  radiological convention (:func:`plane_views`: the viewer's plane geometry, voxel centres at
  multiples of the spacing, sagittal anterior on the left), no reader section.

Nothing here imports Qt.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from model.disclosure import may_show_result, suitability_text
from model.heatmap import head_mask, heatmap_peak
from model.record.report import (
    FindingView,
    GrowthChart,
    Report,
    ReportTable,
    ReportView,
    card_facts,
    result_facts,
    scan_facts,
)
from model.seg_outputs import NO_DECODER_TEXT, findings_summary
from model.vocabulary import DEMONSTRATION_TEXT

REPORT_TITLE = "GloResNet second reader — reading report"
CONVENTION_NAMES = {
    True: "radiological (patient left on image right)",
    False: "neurological (patient left on image left)",
}
#: Findings with key images on the report (the rest are listed in the findings section).
MAX_FINDING_VIEWS = 12
#: Growth charts on the report (the main measures first, then those outside their reference).
MAX_CHARTS = 6
#: Measures charted first.
MAIN_MEASURES = ("ventricles_ml", "white_matter_ml")
#: Why the result is withheld, after the suitability text.
WITHHELD_SUFFIX = (
    'The probability, the call, the heatmap, the measurements and the findings are not shown ("show anyway" was off)'
)

# -- plane geometry (the viewer's, without Qt) --------------------------------------------------------
#: name -> (slice axis, horizontal axis, vertical axis, horizontal always reversed)
_PLANES = {
    "axial": (2, 0, 1, False),
    "coronal": (1, 0, 2, False),
    "sagittal": (0, 1, 2, True),
}
_NEGATIVE, _POSITIVE = "LPI", "RAS"
_INDEX_NAMES = "ijk"


def _letters(h: int, v: int, h_right: bool, doubtful: bool) -> dict:
    left, right = (_NEGATIVE[h], _POSITIVE[h]) if h_right else (_POSITIVE[h], _NEGATIVE[h])
    letters = {"left": left, "right": right, "top": _POSITIVE[v], "bottom": _NEGATIVE[v]}
    return {k: f"{v}?" for k, v in letters.items()} if doubtful else letters


def _orientation_doubtful(volume) -> bool:
    h = getattr(volume, "header", None)
    return h is not None and (not h.orientation_known or h.left_right_conflict)


def plane_views(  # noqa: PLR0913 - the slices' layers are all optional
    volume,
    at_ijk,
    *,
    heatmap: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    highlight: np.ndarray | None = None,
    radiological: bool = True,
    mask: np.ndarray | None = None,
) -> list[ReportView]:
    """Axial, coronal and sagittal slices through voxel ``at_ijk`` of a RAS+ volume.

    The geometry of the viewer's planes (``viewer.display``): row 0 at the bottom, voxel centres at
    multiples of the spacing, radiological or neurological left-right, sagittal anterior on the left;
    letters marked "?" when the header does not back them.

    Parameters
    ----------
    volume : model.volume.Volume
    at_ijk : sequence of 3 int
    heatmap, labels, highlight : np.ndarray, shape ``volume.shape``, optional
        Layers sliced the same way (the heatmap masked to ``mask`` when given).
    radiological : bool
    mask : np.ndarray of bool, optional
        The head (the heatmap is shown inside it only).
    """
    at = [int(np.clip(round(float(v)), 0, n - 1)) for v, n in zip(at_ijk, volume.shape)]
    spacing = volume.spacing_mm
    doubtful = _orientation_doubtful(volume)
    views = []
    for name, (s, h, v, reversed_h) in _PLANES.items():
        index = at[s]

        def cut(array, s=s, index=index):
            return None if array is None else np.take(np.asarray(array), index, axis=s).T

        sh, sv = float(spacing[h]), float(spacing[v])
        nh, nv = volume.shape[h], volume.shape[v]
        x, y, w, hh = -0.5 * sh, -0.5 * sv, nh * sh, nv * sv
        h_right = False if reversed_h else not radiological
        extent = (x, x + w, y, y + hh) if h_right else (x + w, x, y, y + hh)
        hm = cut(heatmap)
        if hm is not None and mask is not None:
            hm = np.where(cut(mask), hm, np.float32(0)).astype(np.float32)
        views.append(
            ReportView(
                title=f"{name.capitalize()}  {_INDEX_NAMES[s]} {index}",
                image=cut(volume.data),
                heatmap=hm,
                extent_mm=extent,
                letters=_letters(h, v, h_right, doubtful),
                marker_mm=(at[h] * sh, at[v] * sv),
                labels=cut(labels),
                highlight=None if highlight is None else cut(highlight).astype(bool),
            )
        )
    return views


def display_window(volume, mask: np.ndarray | None = None) -> tuple:
    """Grey levels (low, high): the 1st and 99th percentiles inside the head."""
    data = np.asarray(volume.data, np.float32)
    inside = data[mask] if mask is not None and mask.any() else data.ravel()
    lo, hi = (float(v) for v in np.percentile(inside, (1, 99)))
    return (lo, hi if hi > lo else lo + 1.0)


# -- the segmentation's parts -------------------------------------------------------------------------
_UNIT_TEXT = {"ml": "ml", "mm": "mm", "mm3": "mm³", "1": ""}


def format_value(value: float, unit: str, key: str = "") -> str:
    """A measure as printed: ``"4.21 ml"``, ``"7.0 mm"``, ``"48 mm³"``, ``"2"`` (a count), ``"0.023"``."""
    if unit == "1":
        return f"{value:.0f}" if key.endswith("_count") else f"{value:.3f}"
    digits = {"ml": 2, "mm": 1, "mm3": 0}.get(unit, 2)
    return f"{value:.{digits}f} {_UNIT_TEXT.get(unit, unit)}".strip()


def _referenced_keys() -> tuple:
    try:
        from model.measure import REFERENCED_KEYS
    except ImportError:  # pragma: no cover - model.measure ships with the segmentation
        return ()
    return tuple(REFERENCED_KEYS)


def _pma_line(report) -> str:
    if report.pma_weeks is None:
        return "PMA unknown: the measurements are given as values only, without an age reference"
    source = f", from {report.pma_source}" if report.pma_source else ""
    return f"References at PMA {report.pma_weeks:.1f} weeks{source}"


def source_numbers(report) -> dict:
    """Reference source -> its note number under the measurements table (in the order measured)."""
    numbers: dict[str, int] = {}
    for m in report.measurements:
        if m.reference is not None:
            numbers.setdefault(m.reference.source, len(numbers) + 1)
    return numbers


def measurement_table(report) -> ReportTable:
    """The measurements of a :class:`model.findings_types.SegmentationReport` with their references.

    Columns: measure, value, reference at the infant's PMA (mean ± SD, "no published spread", "PMA
    unknown" or "none"), z, centile, flag. Each reference's source is a numbered note under the table.
    """
    referenced = set(_referenced_keys())
    sources = source_numbers(report)
    rows = []
    for m in report.measurements:
        ref = m.reference
        if ref is not None:
            n = sources[ref.source]
            mean = format_value(ref.mean, m.unit, m.key)
            ref_text = (
                f"{mean} ± {format_value(ref.sd, m.unit, m.key)}"
                if ref.sd is not None
                else f"{mean}, no published spread"
            )
            ref_text += f" [{n}]"
        elif report.pma_weeks is None and m.key in referenced:
            ref_text = "PMA unknown"
        else:
            ref_text = "none"
        rows.append(
            (
                m.name,
                format_value(m.value, m.unit, m.key),
                ref_text,
                "" if m.z is None else f"{m.z:+.1f}",
                "" if m.centile is None else f"{m.centile:.0f}",
                m.flag,
            )
        )
    notes = [_pma_line(report)]
    notes += [f"[{n}] {source}" for source, n in sources.items()]
    notes += [str(note) for note in getattr(report, "notes", []) or []]
    source = "the model's segmentation" if report.source == "model" else f"the label map {report.source}"
    return ReportTable(
        title=f"Measurements (from {source})",
        columns=("Measure", "Value", "Reference at PMA", "z", "Centile", "Flag"),
        rows=rows,
        widths=(0.30, 0.12, 0.29, 0.07, 0.08, 0.14),
        notes=notes,
    )


def _curve(key: str, source: str) -> tuple:
    """(pma, mean, sd) of the bundled reference of ``key`` when it is the one named ``source``."""
    try:
        from model.norms_table import NormError, NormTable
    except ImportError:  # pragma: no cover - model.norms ships with the measurements
        return (), (), ()
    try:
        rows = [r for r in NormTable.load().rows() if r.key == key]
    except (NormError, OSError):
        return (), (), ()
    if not rows or not any(r.source in source for r in rows):
        return (), (), ()
    pma = tuple(r.pma_weeks for r in rows)
    mean = tuple(r.mean for r in rows)
    sd = tuple(float("nan") if r.sd is None else r.sd for r in rows)
    return pma, mean, sd if any(r.sd is not None for r in rows) else ()


def growth_charts(report, limit: int = MAX_CHARTS) -> list[GrowthChart]:
    """A growth chart per measure with a reference (none when the PMA is unknown), main measures first."""
    if report.pma_weeks is None:
        return []
    measured = [m for m in report.measurements if m.reference is not None]
    order = {k: i for i, k in enumerate(MAIN_MEASURES)}
    measured.sort(key=lambda m: (order.get(m.key, len(order)), 0 if m.flag else 1))
    numbers = source_numbers(report)
    charts = []
    for m in measured[:limit]:
        pma, mean, sd = _curve(m.key, m.reference.source)
        spread = (
            "band: mean ± 2 SD where published"
            if sd or m.reference.sd is not None
            else "mean only: no published spread"
        )
        charts.append(
            GrowthChart(
                name=m.name,
                unit=_UNIT_TEXT.get(m.unit, m.unit) or "ratio",
                source=f"reference [{numbers[m.reference.source]}] (see the table)\n{spread}",
                pma_weeks=float(report.pma_weeks),
                value=float(m.value),
                curve_pma=pma,
                curve_mean=mean,
                curve_sd=sd,
                ref_mean=float(m.reference.mean),
                ref_sd=None if m.reference.sd is None else float(m.reference.sd),
            )
        )
    return charts


def _finding_text(f) -> str:
    x, y, z = (float(v) for v in f.location_ras_mm)
    parts = [f.summary, f"at RAS ({x:.1f}, {y:.1f}, {z:.1f}) mm", f"confidence {f.confidence:.2f}"]
    if f.reference is not None:
        sd = f" ± {f.reference.sd:.3g}" if f.reference.sd is not None else ""
        parts.append(
            f"reference {f.reference.mean:.3g}{sd} {_UNIT_TEXT.get(f.unit, f.unit)} at {f.reference.pma_weeks:.1f} weeks"
        )
    return "; ".join(str(p).rstrip(".") for p in parts)


def findings_facts(report) -> list:
    """The findings as (label, value) rows: ``("1. cystic lesion", "Cyst 1: 6.2 mm, ... at RAS (...) mm; ...")``."""
    if not report.findings:
        return [("Findings", "none")]
    return [(f"{i}. {f.kind}", _finding_text(f)) for i, f in enumerate(report.findings, 1)]


def _component(labels: np.ndarray, finding) -> np.ndarray | None:
    """The voxels of a finding: its lesion's connected component (the one at or nearest its centroid),
    or the whole structure measured; None for a finding without a label."""
    if finding.label is None:
        return None
    mask = np.asarray(labels) == int(finding.label)
    if finding.component is None or not mask.any():
        return mask
    from scipy import ndimage

    comp, n = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
    at = tuple(int(np.clip(round(float(c)), 0, s - 1)) for c, s in zip(finding.location_voxel, labels.shape))
    k = int(comp[at])
    if k == 0:
        idx = np.argwhere(comp > 0)
        k = int(comp[tuple(idx[np.argmin(((idx - np.asarray(at)) ** 2).sum(axis=1))])])
    return comp == k


def finding_views(
    volume, labels: np.ndarray, report, *, radiological: bool = True, limit: int = MAX_FINDING_VIEWS
) -> list[FindingView]:
    """Key images at each finding: three planes through its location with the segmentation outlines
    and the finding's own voxels filled (the first ``limit`` findings)."""
    out = []
    for i, f in enumerate(report.findings[:limit], 1):
        views = plane_views(
            volume, f.location_voxel, labels=labels, highlight=_component(labels, f), radiological=radiological
        )
        out.append(FindingView(title=f"Finding {i}: {f.kind}", caption=_finding_text(f), views=views))
    return out


# -- completing a report --------------------------------------------------------------------------
def _ai_rows(rows: list, result, show_anyway: bool) -> list:
    """The AI result section with :func:`result_facts` under the disclosure rule; other rows (the PMA) kept."""
    produced = {label for label, _ in result_facts(result, False)} | {label for label, _ in result_facts(result, True)}
    kept = [(label, value) for label, value in rows if label not in produced]
    return kept + result_facts(result, show_anyway)


def complete_report(report: Report, volume, result, *, show_anyway: bool = False, radiological: bool = True) -> Report:
    """Apply the disclosure rule to ``report`` and add the segmentation's pages (see the module docstring).

    Parameters
    ----------
    report : Report
        As built by the app or :func:`build_reading_report` (changed in place and returned).
    volume : model.volume.Volume
    result : model.inference.AnalysisResult
    show_anyway : bool
        The reader asked to see an out-of-distribution result anyway.
    radiological : bool
        The display convention of the findings' key images.

    Returns
    -------
    Report
    """
    shown = may_show_result(result, show_anyway)
    sections = list(report.sections)
    index = next((i for i, (title, _) in enumerate(sections) if title == "AI result"), None)
    ai = _ai_rows(list(sections[index][1]), result, show_anyway) if index is not None else []
    seg = getattr(result, "report", None)
    if not shown:
        report.result_withheld = f"{suitability_text(result).rstrip('.')}. {WITHHELD_SUFFIX}."
        mask = head_mask(volume.data)
        centre = np.argwhere(mask).mean(axis=0) if mask.any() else (np.asarray(volume.shape) - 1) / 2
        report.views = [replace(v, heatmap=None) for v in plane_views(volume, centre, radiological=radiological)]
        report.views_caption = "Slices through the centre of the head (no heatmap: the result is not shown)."
        if seg is not None:
            ai.append(("Measurements and findings", "not given: the scan is outside the training domain"))
    elif seg is None:
        ai.append(("Measurements", NO_DECODER_TEXT))
    else:
        ai.append(("Findings", findings_summary(seg)))
        ai.append(("PMA for references", f"{seg.pma_weeks:.1f} weeks" if seg.pma_weeks is not None else "unknown"))
        report.tables = [*report.tables, measurement_table(seg)]
        report.charts = [*report.charts, *growth_charts(seg)]
        findings = ("Findings (from the segmentation; each to be checked on the images)", findings_facts(seg))
        sections.insert((index + 1) if index is not None else len(sections), findings)
        if result.labels is not None:
            report.finding_views = [
                *report.finding_views,
                *finding_views(volume, result.labels, seg, radiological=radiological),
            ]
    if index is not None:
        sections[index] = ("AI result", ai)
    report.sections = sections
    return report


def build_reading_report(  # noqa: PLR0913 - the report's inputs
    volume,
    result,
    card=None,
    *,
    name: str | None = None,
    identifiers: list | None = None,
    show_anyway: bool = False,
    radiological: bool = True,
    colormap: str = "inferno",
    opacity: float = 0.6,
) -> Report:
    """The reading report of one analysed scan without the app (``--report``, ``--reports``).

    The app's sections (``viewer.controllers.export_content.build_report``) less the reader's: identifiers (DICOM, when
    given), the AI result, the scan, the model card; key images through the heatmap maximum inside
    the head; then :func:`complete_report`.
    """
    from model.heatmap import DEFAULT_HEATMAP_THRESHOLD

    mask = head_mask(volume.data)
    window = display_window(volume, mask)
    at = heatmap_peak(result.heatmap, mask) if result.heatmap is not None else tuple(int(n // 2) for n in volume.shape)
    sections = [("AI result", result_facts(result, show_anyway))]
    if identifiers is not None:
        sections.insert(0, ("Patient and study", list(identifiers)))
    sections.append(("Scan", scan_facts(volume, name)))
    if card is not None:
        sections.append(("Model card", card_facts(card)))
    world = volume.world_mm(at)
    caption = (
        "Slices through the heatmap maximum inside the head: voxel (i, j, k) = "
        f"({', '.join(str(int(v)) for v in at)}), RAS ({', '.join(f'{v:.1f}' for v in world)}) mm, marked +."
    )
    report = Report(
        title=REPORT_TITLE,
        sections=sections,
        views=plane_views(volume, at, heatmap=result.heatmap, radiological=radiological, mask=mask),
        window=window,
        colormap=colormap,
        threshold=DEFAULT_HEATMAP_THRESHOLD,
        opacity=opacity,
        banner=DEMONSTRATION_TEXT if result.demonstration else "",
        convention=CONVENTION_NAMES[bool(radiological)],
        views_caption=caption,
    )
    return complete_report(report, volume, result, show_anyway=show_anyway, radiological=radiological)


def dicom_identifiers(volume) -> list | None:
    """Patient and study identifiers of a DICOM input as report rows, as the app prints them (None for NIfTI)."""
    series = volume.extra.get("dicom") if volume is not None else None
    if series is None:
        return None
    return [(k, v or "—") for k, v in series.identifiers().items()]
