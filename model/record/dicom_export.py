"""Results back to PACS: a DICOM Structured Report, a Secondary Capture and, with weights that segment,
a Segmentation and a TID 1500 Measurement Report, in the source study.

:func:`export_dicom` writes new series into the study of the analysed DICOM series (same Study
Instance UID and patient, new Series and SOP Instance UIDs, so nothing existing is replaced):

* a **Comprehensive SR** (highdicom ``ComprehensiveSR``) whose content tree holds P(injury), the
  per-pass probabilities, the decision threshold and the call, the out-of-distribution verdict when
  the result carries one, the model's name, version and weights SHA-256, the input's pixel-data +
  geometry hash, the intended-use text and the research-use-only statement, and a reference to
  the secondary capture. The source images are listed as evidence. Concept names use a private
  coding scheme (``99GLRN``, the "99" prefix DICOM PS3.16 reserves for local schemes) because no
  standard template describes a second reader's probability; it is *not* a TID 1500 measurement
  report.
* a **Secondary Capture** (highdicom ``SCImage``, RGB, 8 bit) of the three planes through the
  heatmap maximum with the Grad-CAM overlay (:func:`model.heatmap.heatmap_lut`, the
  viewer's colouring) and a burned-in "research use only" caption (:func:`key_image`).
* with weights that segment (``result.report``), a **Segmentation** (SEG) of the label map and a
  **Measurement Report** (Comprehensive 3D SR, TID 1500) of its measurements and findings
  (:mod:`model.record.dicom_seg`, :mod:`model.record.dicom_tid1500`).

An out-of-distribution scan (:func:`model.disclosure.may_show_result`, issue 30) gets an SR with the
verdict and no probability or call, a secondary capture without the heatmap (the planes through the
centre of the head), and no SEG or measurement report, unless ``show_anyway``; then the numbers are
written, each marked as not a call.

A source series that lacks type-2 patient or study attributes (AccessionNumber in many anonymised
exports) is exported with those attributes empty (:func:`model.record.dicom_seg.complete_type2`);
the text of every object is UTF-8 (Specific Character Set ``ISO_IR 192``), and every object we
write passes ``dciodvfy`` (dicom3tools) without errors (tests/model/test_dicom_seg_sr.py).

Files are written atomically (:mod:`model.fileio`), never into the input folder and never over an
existing file. The library does the DICOM (modules, UIDs, evidence); ours is the content and the
picture. Nothing here imports Qt.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.disclosure import is_out_of_distribution, may_show_result, suitability_text
from model.errors import GloResNetError
from model.fileio import write_bytes_atomic
from model.heatmap import DEFAULT_HEATMAP_THRESHOLD, HEATMAP_CAPTION, heatmap_lut, heatmap_rgba
from model.record.dicom_common import (  # noqa: F401 - SCHEME re-exported: the SR's private scheme
    CHARACTER_SET,
    SCHEME,
    private_code,
    private_scheme_identification,
    structured_report,
    ucum,
)
from model.record.report_facts import format_probability

MANUFACTURER = "GloResNet second reader (research software)"
RESEARCH_ONLY = "RESEARCH USE ONLY - not for diagnosis; does not replace the radiologist's report"
SR_SERIES_DESCRIPTION = "GloResNet AI result (research use only)"
SC_SERIES_DESCRIPTION = "GloResNet key images (research use only)"
#: Series numbers of the new series: the source's plus these offsets (kept below 2**31).
SR_SERIES_OFFSET, SC_SERIES_OFFSET, SEG_SERIES_OFFSET, TID1500_SERIES_OFFSET = 9000, 9500, 9700, 9800


class ExportError(GloResNetError):
    """The DICOM export cannot be written (no DICOM source, bad output folder)."""


@dataclass(frozen=True)
class ExportedFiles:
    """What :func:`export_dicom` wrote: the paths and the new UIDs (SEG and TID 1500 None when not written)."""

    sr_path: Path
    sc_path: Path
    study_uid: str
    sr_series_uid: str
    sc_series_uid: str
    seg_path: Path | None = None
    tid1500_path: Path | None = None
    seg_series_uid: str = ""
    tid1500_series_uid: str = ""
    not_written: str = ""

    @property
    def paths(self) -> list:
        """Every file written."""
        return [p for p in (self.sr_path, self.sc_path, self.seg_path, self.tid1500_path) if p is not None]


def _ood_text(result) -> str | None:
    """The out-of-distribution verdict of a result (:attr:`model.ood_gate.OODVerdict.summary`), or None."""
    ood = getattr(result, "ood", None)
    return None if ood is None else str(ood.summary)


# -- the picture -----------------------------------------------------------------------------------
def _head_peak(data: np.ndarray, heatmap: np.ndarray) -> tuple:
    """Voxel of the heatmap maximum inside the head (voxels above the background value).

    Same rule as the viewer's go-to-maximum (``viewer.display.heatmap_peak`` on its head mask):
    coarse Grad-CAM maps have plateaus reaching the field-of-view corners.
    """
    from scipy.ndimage import binary_fill_holes

    lo = float(data.min())
    mask = binary_fill_holes(data > lo + 0.02 * max(float(np.percentile(data, 99)) - lo, 0.0))
    masked = np.where(mask, heatmap, -np.inf) if mask.any() else heatmap
    return tuple(int(v) for v in np.unravel_index(int(np.argmax(masked)), heatmap.shape)), mask


def key_image(
    volume,
    heatmap: np.ndarray | None,
    caption: str,
    threshold: float = DEFAULT_HEATMAP_THRESHOLD,
    colormap: str = "inferno",
    opacity: float = 0.6,
    width_px: int = 1500,
) -> np.ndarray:
    """Three planes through the heatmap maximum with the heatmap overlay and a caption, as RGB.

    Radiological convention (patient right on image left; sagittal anterior on the left), true
    voxel aspect, window from the 1st to the 99th percentile inside the head; the heatmap is shown
    inside the head only, transparent below ``threshold``.

    Parameters
    ----------
    volume : model.volume.Volume
        RAS+ volume (X, Y, Z).
    heatmap : np.ndarray or None, shape (X, Y, Z), values in [0, 1]
        None: the planes through the centre of the head, without an overlay (a result not shown).
    caption : str
        Burned in under the images (wrapped).

    Returns
    -------
    np.ndarray, shape (rows, columns, 3), uint8
    """
    import textwrap

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = np.asarray(volume.data, dtype=np.float32)
    if heatmap is None:
        _, mask = _head_peak(data, np.zeros(data.shape, np.float32))
        centre = np.argwhere(mask).mean(axis=0) if mask.any() else (np.asarray(data.shape) - 1) / 2
        i, j, k = (int(round(float(v))) for v in centre)
        shown = np.zeros(data.shape, np.float32)
    else:
        (i, j, k), mask = _head_peak(data, heatmap)
        shown = np.where(mask, heatmap, 0.0)
    sx, sy, sz = (float(s) for s in volume.spacing_mm)
    nx, ny, nz = data.shape
    # (title, image rows x cols with row 0 at the top, heatmap, extent (l, r, b, t) mm, edge letters)
    planes = [
        (f"Axial k {k}", data[::-1, ::-1, k].T, shown[::-1, ::-1, k].T, (0, nx * sx, 0, ny * sy), "R", "L", "A", "P"),
        (f"Coronal j {j}", data[::-1, j, ::-1].T, shown[::-1, j, ::-1].T, (0, nx * sx, 0, nz * sz), "R", "L", "S", "I"),
        (
            f"Sagittal i {i}",
            data[i, ::-1, ::-1].T,
            shown[i, ::-1, ::-1].T,
            (0, ny * sy, 0, nz * sz),
            "A",
            "P",
            "S",
            "I",
        ),
    ]
    inside = data[mask] if mask.any() else data.ravel()
    lo, hi = (float(v) for v in np.percentile(inside, (1, 99)))
    hi = hi if hi > lo else lo + 1.0
    lut = heatmap_lut(colormap, threshold)
    fig = Figure(figsize=(width_px / 100, width_px / 100 * 0.45), dpi=100, facecolor="black")
    FigureCanvasAgg(fig)
    for c, (title, img, hm, extent, left, right, top, bottom) in enumerate(planes):
        ax = fig.add_axes([0.01 + c / 3, 0.2, 1 / 3 - 0.02, 0.68])
        ax.set_facecolor("black")
        ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, extent=extent, origin="upper", interpolation="nearest")
        if heatmap is not None:
            ax.imshow(heatmap_rgba(hm, lut, opacity), extent=extent, origin="upper", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_visible(False)
        ax.set_title(title, color="white", fontsize=11)
        for text, (x, y, ha, va) in (
            (left, (0.01, 0.5, "left", "center")),
            (right, (0.99, 0.5, "right", "center")),
            (top, (0.5, 0.99, "center", "top")),
            (bottom, (0.5, 0.01, "center", "bottom")),
        ):
            ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, color="#00e5ff", fontsize=12, fontweight="bold")
    fig.text(0.5, 0.965, RESEARCH_ONLY, color="#f9a825", ha="center", va="center", fontsize=13, fontweight="bold")
    y = 0.15
    for line in textwrap.wrap(caption, 150):
        fig.text(0.02, y, line, color="white", fontsize=10, va="top")
        y -= 0.05
    fig.canvas.draw()
    return np.ascontiguousarray(np.asarray(fig.canvas.buffer_rgba())[..., :3])


# -- the files -------------------------------------------------------------------------------------
def _source_datasets(series) -> list:
    """The source series' headers, type-2 patient/study attributes completed (never written back)."""
    import pydicom

    from model.record.dicom_seg import complete_type2

    return [complete_type2(pydicom.dcmread(p, stop_before_pixels=True)) for p in series.files]


def _check_out_dir(out_dir: Path, series, forbidden: list[Path]) -> None:
    out = out_dir.resolve()
    for folder in [series.folder, *forbidden]:
        folder = Path(folder).resolve()
        if out == folder or out.is_relative_to(folder):
            raise ExportError(
                f"{out_dir}: refusing to write DICOM results into the input folder {folder}; pick another folder"
            )
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out_dir}: exists and is not a folder")


def _save(ds, path: Path) -> None:
    if path.exists():
        raise ExportError(f"{path}: exists; not overwritten")
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    write_bytes_atomic(path, buf.getvalue())


def _sr_content(result, card, volume, sc, shown: bool = True, segmentation=None) -> object:
    """The SR's content tree; without ``shown`` (an out-of-distribution result, :mod:`model.disclosure`)
    no probability, threshold or call is in it, only the verdict."""
    from highdicom.sr import (
        ContainerContentItem,
        ContentSequence,
        ImageContentItem,
        NumContentItem,
        TextContentItem,
    )

    unit = ucum("1", "no units")
    ood = is_out_of_distribution(result)
    items = []
    if shown:
        items += [
            NumContentItem(
                private_code("P-INJURY", "Probability of brain injury (TTA mean)"),
                float(result.probability),
                unit,
                relationship_type="CONTAINS",
            ),
            NumContentItem(
                private_code("P-IDENTITY", "Probability of brain injury, identity pass"),
                float(result.pass_probabilities[0]),
                unit,
                relationship_type="CONTAINS",
            ),
            NumContentItem(
                private_code("P-FLIPPED", "Probability of brain injury, left-right flipped pass"),
                float(result.pass_probabilities[1]),
                unit,
                relationship_type="CONTAINS",
            ),
            NumContentItem(
                private_code("THRESHOLD", "Decision threshold"),
                float(result.threshold),
                unit,
                relationship_type="CONTAINS",
            ),
            TextContentItem(
                private_code("CALL", "Call"),
                f"{result.flag} (P(injury) {format_probability(result.probability)}, "
                f"threshold {format_probability(result.threshold)}, indeterminate within "
                f"±{100 * result.indeterminate_band:.1f} points)"
                + ("; NOT A CALL: outside the training domain, shown at the reader's request" if ood else ""),
                relationship_type="CONTAINS",
            ),
        ]
    else:
        items.append(
            TextContentItem(
                private_code("CALL", "Call"),
                f"{result.flag}: no call; the probability, the heatmap, the measurements and the findings "
                "are not given for a scan outside the training domain",
                relationship_type="CONTAINS",
            )
        )
    ood_text = _ood_text(result)
    if ood_text is not None:
        items.append(
            TextContentItem(
                private_code("OOD", "Out-of-distribution verdict"), ood_text[:1024], relationship_type="CONTAINS"
            )
        )
    if shown and getattr(result, "report", None) is not None:
        from model.seg_outputs import findings_summary

        items.append(
            TextContentItem(
                private_code("FINDINGS", "Findings (from the segmentation)"),
                findings_summary(result.report)[:1024],
                relationship_type="CONTAINS",
            )
        )
    elif getattr(result, "report", None) is None:
        from model.seg_outputs import NO_DECODER_TEXT

        items.append(
            TextContentItem(private_code("MEASUREMENTS", "Measurements"), NO_DECODER_TEXT, relationship_type="CONTAINS")
        )
    items += [
        TextContentItem(
            private_code("MODEL", "Model name"), result.model_name or "(unnamed)", relationship_type="CONTAINS"
        ),
        TextContentItem(
            private_code("MODEL-VERSION", "Model version"),
            result.model_version or "(none)",
            relationship_type="CONTAINS",
        ),
        TextContentItem(
            private_code("WEIGHTS-SHA256", "Model weights SHA-256"),
            result.weights_sha256 or "(unknown)",
            relationship_type="CONTAINS",
        ),
        TextContentItem(
            private_code("DEMO", "Demonstration weights"),
            "yes" if result.demonstration else "no",
            relationship_type="CONTAINS",
        ),
        TextContentItem(
            private_code("INPUT-HASH", "Input pixel data and geometry SHA-256"),
            volume.sha256 or "(not computed)",
            relationship_type="CONTAINS",
        ),
        TextContentItem(
            private_code("INTENDED-USE", "Intended use"),
            (card.intended_use[:1024] if card is not None else "") or "(no model card given)",
            relationship_type="CONTAINS",
        ),
        TextContentItem(private_code("RUO", "Research use only"), RESEARCH_ONLY, relationship_type="CONTAINS"),
        ImageContentItem(
            private_code("KEY-IMAGES", "Key images with heatmap" if shown else "Key images (no heatmap)"),
            sc.SOPClassUID,
            sc.SOPInstanceUID,
            relationship_type="CONTAINS",
        ),
    ]
    if segmentation is not None:
        items.append(
            ImageContentItem(
                private_code("SEGMENTATION", "Segmentation (tissue and lesion labels)"),
                segmentation.SOPClassUID,
                segmentation.SOPInstanceUID,
                relationship_type="CONTAINS",
            )
        )
    root = ContainerContentItem(private_code("AI-RESULT", "AI second-reader result: brain injury on neonatal T2 MRI"))
    root.ContentSequence = ContentSequence(items)
    return root


def _caption(result, series, shown: bool) -> str:
    """The SC's burned-in caption (the heatmap's, or why there is none)."""
    model = f"{result.model_name} v{result.model_version}" + (
        " (DEMONSTRATION weights trained on simulated data)" if result.demonstration else ""
    )
    where = f"Series {series.series_number}: {series.series_description}."
    if not shown:
        return (
            f"{model}: {suitability_text(result).rstrip('.')}. No probability, call or heatmap is given for this "
            f"scan; the planes through the centre of the head are shown. {where}"
        )
    ood = _ood_text(result)
    caption = (
        f"{model}: P(injury) {format_probability(result.probability)}, {result.flag} "
        f"(threshold {format_probability(result.threshold)})"
        + (", NOT A CALL (shown at the reader's request)" if is_out_of_distribution(result) else "")
        + f". {HEATMAP_CAPTION}. {where}"
    )
    if ood:
        caption += f" Out-of-distribution check: {ood.rstrip('.')}."
    return caption


def export_dicom(  # noqa: C901, PLR0913 - the export's steps and its inputs
    out_dir: str | Path,
    volume,
    result,
    card=None,
    *,
    forbidden: list | None = None,
    key_image_rgb: np.ndarray | None = None,
    show_anyway: bool = False,
) -> ExportedFiles:
    """Write an SR and an SC (and, with a segmentation, a SEG and a TID 1500 report) into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Created when missing. Must not be (inside) the series' folder or any of ``forbidden``.
    volume : model.volume.Volume
        Loaded with :func:`model.dicom.load_series` (``volume.extra["dicom"]`` is its series).
    result : model.inference.AnalysisResult
        With a heatmap (``with_cam=True``) unless ``key_image_rgb`` is given or the result is not shown.
    card : model.checkpoint.ModelCard, optional
        For the intended-use text.
    forbidden : list of Path, optional
        Further input folders to refuse (a batch's root).
    key_image_rgb : np.ndarray, shape (rows, cols, 3), uint8, optional
        The picture to store (default :func:`key_image`).
    show_anyway : bool
        The reader asked to see an out-of-distribution result anyway (:func:`model.disclosure.may_show_result`).

    Returns
    -------
    ExportedFiles

    Raises
    ------
    ExportError
        Not a DICOM input, no heatmap, output inside an input folder, or a file that exists.
    """
    import highdicom as hd

    out_dir = Path(out_dir)
    series = volume.extra.get("dicom") if volume is not None else None
    if series is None:
        raise ExportError(
            f"{getattr(volume, 'path', '')}: DICOM export needs a DICOM input (this scan is not a "
            "DICOM series, so there is no study to add the results to)"
        )
    _check_out_dir(out_dir, series, [Path(p) for p in (forbidden or [])])
    shown = may_show_result(result, show_anyway)
    if key_image_rgb is None:
        if shown and result.heatmap is None:
            raise ExportError("DICOM export needs the Grad-CAM heatmap (analyse with the heatmap)")
        key_image_rgb = key_image(volume, result.heatmap if shown else None, _caption(result, series, shown))
    sources = _source_datasets(series)
    ref = sources[0]
    base_number = int(series.series_number or 0)
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=ref,
        pixel_array=np.ascontiguousarray(key_image_rgb, dtype=np.uint8),
        photometric_interpretation="RGB",
        bits_allocated=8,
        coordinate_system="PATIENT",
        series_instance_uid=hd.UID(),
        series_number=base_number + SC_SERIES_OFFSET,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        patient_orientation=("L", "P"),
        transfer_syntax_uid="1.2.840.10008.1.2.1",
    )
    sc.SeriesDescription = SC_SERIES_DESCRIPTION
    sc.BurnedInAnnotation = "NO"  # the caption names no patient
    sc.ImageComments = RESEARCH_ONLY
    sc.DerivationDescription = HEATMAP_CAPTION if shown else "Planes through the centre of the head, no heatmap"
    sc.BodyPartExamined = "HEAD"  # an unpaired body part: Laterality (type 2C) stays absent
    sc.SpecificCharacterSet = CHARACTER_SET
    seg = measurements = None
    not_written = ""
    report = getattr(result, "report", None)
    if report is not None and result.labels is not None and shown:
        from model.record.dicom_seg import segmentation_dataset
        from model.record.dicom_tid1500 import measurement_report_dataset

        try:
            seg, numbers = segmentation_dataset(
                sources,
                volume,
                result.labels,
                result,
                series_number=base_number + SEG_SERIES_OFFSET,
                manufacturer=MANUFACTURER,
            )
        except ValueError as exc:  # an empty label map: nothing to store
            not_written = f"no segmentation written: {exc}"
        else:
            seg.SpecificCharacterSet = CHARACTER_SET
            measurements = measurement_report_dataset(
                sources,
                seg,
                numbers,
                volume,
                result,
                series_number=base_number + TID1500_SERIES_OFFSET,
                manufacturer=MANUFACTURER,
            )
    elif report is not None and not shown:
        not_written = "no segmentation or measurement report: the scan is outside the training domain"
    sr = structured_report(
        hd.sr.ComprehensiveSR,
        evidence=[*sources, sc] + ([seg] if seg is not None else []),
        content=_sr_content(result, card, volume, sc, shown, seg),
        series_number=base_number + SR_SERIES_OFFSET,
        manufacturer=MANUFACTURER,
        description=SR_SERIES_DESCRIPTION,
    )
    for ds in (sr, seg, measurements):
        if ds is not None:
            ds.CodingSchemeIdentificationSequence = private_scheme_identification()
    stem = f"gloresnet-series{base_number}"
    objects = [
        (sc, out_dir / f"{stem}-SC-{sc.SOPInstanceUID}.dcm"),
        (sr, out_dir / f"{stem}-SR-{sr.SOPInstanceUID}.dcm"),
    ]
    if seg is not None:
        objects.append((seg, out_dir / f"{stem}-SEG-{seg.SOPInstanceUID}.dcm"))
        objects.append((measurements, out_dir / f"{stem}-TID1500-{measurements.SOPInstanceUID}.dcm"))
    written: list[Path] = []
    try:
        for ds, path in objects:
            _save(ds, path)
            written.append(path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    paths = [p for _, p in objects]
    return ExportedFiles(
        sr_path=paths[1],
        sc_path=paths[0],
        study_uid=str(sr.StudyInstanceUID),
        sr_series_uid=str(sr.SeriesInstanceUID),
        sc_series_uid=str(sc.SeriesInstanceUID),
        seg_path=paths[2] if seg is not None else None,
        tid1500_path=paths[3] if seg is not None else None,
        seg_series_uid=str(seg.SeriesInstanceUID) if seg is not None else "",
        tid1500_series_uid=str(measurements.SeriesInstanceUID) if measurements is not None else "",
        not_written=not_written,
    )
