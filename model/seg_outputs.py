"""Segmentation results leaving the program: label-map files, worklist cells, one-line findings (issues 28, 29).

* :func:`write_label_map` writes a label map that lies on a volume's RAS+ grid back onto the input
  file's own voxel grid and affine (the inverse of :mod:`model.volume`'s reorientation, as heatmaps
  are written), as a uint8 NIfTI with the NIfTI label intent, and the JSON label table
  (:func:`model.segmentation.label_table`) beside it (:func:`label_table_path`: ``seg.nii.gz`` ->
  ``seg.labels.json``). Both files are written atomically (:mod:`model.fileio`).
* :func:`worklist_cells` turns an analysis result into the worklist's measurement columns
  (:data:`MEASURE_COLUMNS`, shared by ``model.score``'s CSV and the batch dialog).
* :func:`findings_summary` is the one-line findings text of the worklist, the CLI and the PDF.

What an out-of-distribution result may show is decided by :func:`model.disclosure.may_show_result`
alone: measurements and findings of such a scan are not given as results unless the reader asked to
see them anyway. Nothing here imports Qt.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np

from model.disclosure import may_show_result
from model.fileio import atomic_output, write_bytes_atomic
from model.findings_types import FINDING_KINDS
from model.segmentation import label_table

#: NIfTI intent code of a label map (NIFTI_INTENT_LABEL).
NIFTI_INTENT_LABEL = 1002
#: The NIfTI ``descrip`` of a written label map (80 bytes at most).
LABEL_MAP_DESCRIPTION = "GloResNet label map, Draw-EM values (see .labels.json)"
#: What the measurement cells say for weights without a segmentation decoder.
NO_DECODER_TEXT = "not available with these weights (no segmentation decoder)"
#: What they say for a scan outside the training domain (model.disclosure).
WITHHELD_TEXT = "not given: outside what these weights were trained on"

#: Worklist columns of the segmentation (after P(injury) in ``model.score.COLUMNS``).
MEASURE_COLUMNS = [
    "segmentation",
    "pma_weeks",
    "pma_source",
    "ventricles_ml",
    "ventricles_z",
    "ventricles_centile",
    "white_matter_ml",
    "white_matter_z",
    "lesion_count",
    "findings",
]


def label_table_path(seg_path: str | Path) -> Path:
    """Where the JSON label table of a label map goes: ``seg.nii.gz``/``seg.nii`` -> ``seg.labels.json``."""
    seg_path = Path(seg_path)
    name = seg_path.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return seg_path.with_name(name + ".labels.json")


def label_image(volume, labels: np.ndarray) -> nib.Nifti1Image:
    """A label map on ``volume``'s RAS+ grid as a uint8 NIfTI on the input file's own grid and affine.

    The voxel order, shape and affine are those of the input file (:meth:`model.volume.Volume.to_source_grid`,
    :attr:`~model.volume.Volume.source_affine`); the qform/sform codes and units follow
    :meth:`model.volume.Volume.source_image` (the heatmap's rule), the intent is NIFTI_INTENT_LABEL
    and no scaling is stored.

    Raises
    ------
    ValueError
        ``labels`` does not have the volume's shape.
    """
    data = np.asarray(volume.to_source_grid(np.asarray(labels)), dtype=np.uint8)
    img = nib.Nifti1Image(data, volume.source_affine)
    img.set_data_dtype(np.uint8)
    h = volume.header
    qcode = 1 if h is None else (h.qform_code or h.sform_code)
    scode = 1 if h is None else (h.sform_code or h.qform_code)
    img.set_qform(volume.source_affine, code=int(qcode))
    img.set_sform(volume.source_affine, code=int(scode))
    if h is not None and h.xyzt_units:
        img.header["xyzt_units"] = h.xyzt_units
    else:
        img.header.set_xyzt_units("mm")
    img.header.set_intent(NIFTI_INTENT_LABEL)
    img.header.set_slope_inter(1.0, 0.0)
    img.header["descrip"] = LABEL_MAP_DESCRIPTION.encode("ascii")[:80]
    return img


def write_label_map(volume, labels: np.ndarray, path: str | Path, *, about: dict | None = None) -> tuple[Path, Path]:
    """Write ``labels`` (on ``volume``'s RAS+ grid) as NIfTI on the input's grid, with its label table.

    Parameters
    ----------
    volume : model.volume.Volume
        The analysed volume (its source grid and affine are used).
    labels : np.ndarray, shape ``volume.shape``, uint8
    path : str or Path
        ``.nii`` or ``.nii.gz``.
    about : dict, optional
        Added to the JSON (e.g. the model, the input's SHA-256).

    Returns
    -------
    (Path, Path)
        The label map and its JSON label table (:func:`label_table_path`).

    Raises
    ------
    OSError
        The files cannot be written (nothing half-written is left).
    """
    path = Path(path)
    table_path = label_table_path(path)
    img = label_image(volume, labels)
    table = {
        **label_table(),
        "image": path.name,
        "grid": "the input scan's own voxel grid and affine (shape "
        + " x ".join(str(n) for n in img.shape)
        + "), uint8 label values",
        **(about or {}),
    }
    with atomic_output(path) as tmp:
        nib.save(img, str(tmp))
        write_bytes_atomic(table_path, (json.dumps(table, indent=2) + "\n").encode("utf-8"))
    return path, table_path


# -- text and worklist cells ------------------------------------------------------------------------
def _plural(kind: str, n: int) -> str:
    if n == 1:
        return kind
    if kind.endswith("lesion"):
        return f"{n} {kind}s"
    return f"{n} × {kind}"


def findings_summary(report) -> str:
    """One line naming the findings of a :class:`model.findings_types.SegmentationReport`.

    ``"ventricular dilatation; 2 cystic lesions"``; ``"none"`` when there are none. Kinds in the
    order of :data:`model.findings_types.FINDING_KINDS`.
    """
    findings = list(getattr(report, "findings", []) or [])
    if not findings:
        return "none"
    counts = {kind: 0 for kind in FINDING_KINDS}
    for f in findings:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    return "; ".join(_plural(kind, n) for kind, n in counts.items() if n)


def _num(value, digits: int) -> str:
    return "" if value is None else f"{float(value):.{digits}f}"


def lesion_count(report) -> int:
    """Focal lesions (cysts and punctate lesions) of a report."""
    return len(list(getattr(report, "lesions", []) or []))


def worklist_cells(result, show_anyway: bool = False) -> dict:
    """The :data:`MEASURE_COLUMNS` cells of one analysis result (strings, as in the CSV).

    Weights without a decoder give ``segmentation`` = :data:`NO_DECODER_TEXT` and empty cells; a
    scan the out-of-distribution gate flagged gives :data:`WITHHELD_TEXT` and empty cells unless
    ``show_anyway`` (:func:`model.disclosure.may_show_result`). ``ventricles_centile`` is the
    centile at the infant's PMA against the reference named in the report (empty without PMA or
    without a reference spread).
    """
    cells = {c: "" for c in MEASURE_COLUMNS}
    report = getattr(result, "report", None)
    if report is None:
        cells["segmentation"] = NO_DECODER_TEXT
        return cells
    if not may_show_result(result, show_anyway):
        cells["segmentation"] = WITHHELD_TEXT
        return cells
    cells["segmentation"] = "available"
    cells["pma_weeks"] = _num(report.pma_weeks, 1)
    cells["pma_source"] = report.pma_source or ("" if report.pma_weeks is not None else "PMA unknown")
    vent, wm = report.measurement("ventricles_ml"), report.measurement("white_matter_ml")
    if vent is not None:
        cells.update(ventricles_ml=_num(vent.value, 3), ventricles_z=_num(vent.z, 2))
        cells["ventricles_centile"] = _num(vent.centile, 1)
    if wm is not None:
        cells.update(white_matter_ml=_num(wm.value, 3), white_matter_z=_num(wm.z, 2))
    cells["lesion_count"] = str(lesion_count(report))
    cells["findings"] = findings_summary(report)
    return cells


def input_pma(path) -> tuple[float | None, str]:
    """The post-menstrual age of an input scan from what travels with it (:func:`model.pma.pma_for`:
    BIDS ``sessions.tsv`` / JSON sidecar, DICOM header), or ``(None, "")`` when nothing says it."""
    if path is None:
        return None, ""
    try:
        from model.pma import pma_for
    except ImportError:  # the PMA readers are optional: without them the age is the reader's entry only
        return None, ""
    try:
        weeks, source = pma_for(path)
    except (OSError, ValueError):
        return None, ""
    return (None, "") if weeks is None else (float(weeks), str(source))
