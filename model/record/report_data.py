"""What goes on the reading report, as plain data: :class:`Report` and its slices, tables, growth charts
and finding views.

Part of the PDF report (:mod:`model.record.report` lays these out and re-exports every name here).
Built by the viewer and by :mod:`model.record.reading_report`; nothing here draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.heatmap import DEFAULT_HEATMAP_THRESHOLD
from model.timestamps import utc_now

DISCLAIMER = (
    "Research use only. This report was produced by a second-reader program that estimates the probability "
    "of brain injury on a T2-weighted MRI of a preterm infant and, with weights that segment, measures tissue "
    "volumes and marks focal lesions. It does not diagnose and must not replace the radiologist's report: every "
    "measurement and finding is the program's, to be checked on the images. The heatmap (Grad-CAM) shows which "
    "regions influenced the model's output; it is not a segmentation of injury."
)


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
