"""What the exports contain, without Qt: the report's slices and facts, and default file names.

The report shows the three planes through the heatmap maximum, oriented as on screen (the same
:mod:`viewer.display` geometry and the reader's convention), with the same window, colormap,
threshold and head mask; :func:`build_report` gathers the facts of the scan, the result, the model
card and the reader's decision into a :class:`model.record.report.Report` for ``model.record.report.write_report``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from model.heatmap import HEATMAP_DESCRIPTION  # noqa: F401 - re-exported for the main window
from model.record.reading_report import complete_report
from model.record.report import Report, ReportView, card_facts, result_facts, scan_facts
from model.vocabulary import AI_DECISIONS
from viewer.display import (
    GEOMETRY,
    INDEX_NAMES,
    PLANES,
    edge_letters,
    h_increases_right,
    image_rect_mm,
    plane_slice,
    voxel_to_view,
    window_levels,
)
from viewer.services.record_sections import pma_text, record_sections
from viewer.views.orientation import marked_letters

CONVENTION_NAMES = {
    True: "radiological (patient left on image right)",
    False: "neurological (patient left on image left)",
}
REPORT_TITLE = "GloResNet second reader — reading report"
#: What the NIfTI header's description says about an exported heatmap (80 bytes at most).


def report_views(scan, heatmap: np.ndarray | None, at_ijk, radiological: bool) -> list:
    """The three planes through voxel ``at_ijk`` as :class:`model.record.report.ReportView`, oriented as on screen.

    The heatmap slices are masked to the head like the overlay (``scan.head_mask``).
    """
    volume = scan.volume
    views = []
    for plane in PLANES:
        geom = GEOMETRY[plane]
        index = int(at_ijk[geom.slice_axis])
        x, y, w, h = image_rect_mm(volume.shape, volume.spacing_mm, geom)
        extent = (x, x + w, y, y + h) if h_increases_right(geom, radiological) else (x + w, x, y, y + h)
        hm = None
        if heatmap is not None:
            hm = np.asarray(plane_slice(heatmap, geom, index), dtype=np.float32)
            if scan.head_mask is not None:
                hm = np.where(plane_slice(scan.head_mask, geom, index), hm, np.float32(0))
        views.append(
            ReportView(
                title=f"{plane.capitalize()}  {INDEX_NAMES[geom.slice_axis]} {index}",
                image=np.asarray(plane_slice(volume.data, geom, index)),
                heatmap=hm,
                extent_mm=extent,
                letters=marked_letters(edge_letters(geom, radiological), volume),
                marker_mm=voxel_to_view(at_ijk, geom, volume.spacing_mm),
            )
        )
    return views


def reader_facts(reader_name: str, impression: str | None, decision: dict | None) -> list:
    """The reader's part of the report as (label, value) pairs."""
    facts = [("Reader", reader_name or "(not set)"), ("Impression", impression or "(not recorded)")]
    if decision is None:
        facts.append(("Decision", "(no decision recorded)"))
        return facts
    what = decision.get("decision", "")
    if what not in AI_DECISIONS:  # an impression or a measurement is not a decision on the AI result
        facts.append(("Decision", "(no decision on the AI result recorded)"))
        return facts
    if what == "override":
        what += f" — reader's call: {decision.get('override_call')}"
    facts += [
        ("Decision", what),
        ("Reason", decision.get("reason") or "(none given)"),
        ("Recorded", f"{decision.get('time_utc', '')} (UTC)"),
        ("Audit entry", f"#{decision.get('seq')} hash {str(decision.get('hash', ''))[:16]}…"),
    ]
    return facts


def build_report(
    scan,
    result,
    card,
    *,
    radiological: bool,
    window: tuple,
    invert: bool,
    colormap: str,
    threshold: float,
    opacity: float,
    reader_name: str,
    impression: str | None,
    decision: dict | None,
    peak_ijk,
    identifiers: list | None = None,
    record=None,
    show_anyway: bool = False,
) -> Report:
    """Everything on the PDF report of one reading (see :mod:`model.record.report`).

    ``identifiers``: (label, value) pairs of the patient and study (DICOM), printed first on page 1;
    None for a scan without any (NIfTI). ``record`` (:class:`viewer.services.record_sections.ReadingRecord`)
    adds the post-menstrual age to the AI result and, after the scan facts, the measurements, the
    decision history with each entry's hash, the chain head and the site public key (issue 11).
    :func:`model.record.reading_report.complete_report` then applies the out-of-distribution rule
    (``show_anyway``: the reader's "Show probability and heatmap anyway") and adds the segmentation's
    measurements, growth charts, findings and their key images, as the command line's report has them.
    """
    scan_section = scan_facts(scan.volume, scan.name)
    scan_section.append(("Quality warnings", "; ".join(scan.quality) if scan.quality else "none"))
    ai_section = result_facts(result)
    reader_section = reader_facts(reader_name, impression, decision)
    if record is not None:
        ai_section.insert(0, ("PMA at scan", pma_text(record.pma_weeks)))
        last = [e for e in record.history if e.get("decision") in AI_DECISIONS]
        if last:  # the decision on the AI result, not the last entry (which may be the impression)
            reader_section = reader_facts(reader_name, impression, last[-1])
    sections = [("AI result", ai_section), ("Reader", reader_section), ("Scan", scan_section)]
    if record is not None:
        sections += record_sections(record)
    if identifiers is not None:
        sections.insert(0, ("Patient and study", list(identifiers)))
        if any(label == "Identifiers" for label, _v in identifiers):  # hidden: no folder path either
            scan_section[:] = [(k, "(hidden)" if k == "File" else v) for k, v in scan_section]
    if card is not None:
        sections.append(("Model card", card_facts(card)))
    world = scan.volume.world_mm(peak_ijk)
    caption = (
        "Slices through the heatmap maximum inside the head: voxel (i, j, k) = "
        f"({', '.join(str(int(v)) for v in peak_ijk)}), RAS ({', '.join(f'{v:.1f}' for v in world)}) mm, "
        "marked +."
    )
    report = Report(
        title=REPORT_TITLE,
        sections=sections,
        views=report_views(scan, result.heatmap, peak_ijk, radiological),
        window=window_levels(*window),
        invert=invert,
        colormap=colormap,
        threshold=threshold,
        opacity=opacity,
        banner=(
            "Demonstration weights — trained on simulated data, not for clinical use" if result.demonstration else ""
        ),
        convention=CONVENTION_NAMES[bool(radiological)],
        views_caption=caption,
    )
    return complete_report(report, scan.volume, result, show_anyway=show_anyway, radiological=radiological)


def default_export_name(scan_name: str, kind: str) -> str:
    """File name proposed for an export: ``<scan stem>_<kind>`` (kind e.g. ``report.pdf``)."""
    stem = re.sub(r"\.nii(\.gz)?$", "", Path(scan_name).name, flags=re.IGNORECASE)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("_") or "scan"
    return f"{stem}_{kind}"
