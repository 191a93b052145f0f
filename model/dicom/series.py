"""A DICOM series as the app shows it: :class:`SeriesInfo`, built from its files' headers.

:func:`describe_series` reads the description shown in the series picker, the identifiers shown in
the header bar and the acquisition (:mod:`model.acquisition`) from one series' pydicom headers, and
runs the refusal checks (see :mod:`model.dicom`) that set :attr:`SeriesInfo.problem`, from each
frame's geometry (:func:`frame_geometry`). The text forms other modules take from a series are here
too: :func:`listing` (command line), :func:`row_columns` (worklist) and :func:`audit_fields` (audit
log).
Imports no other part of :mod:`model.dicom`.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.acquisition import Acquisition, from_dicom, t2_weighting

#: SOP Class UID prefixes of objects that hold no image volume (DICOM PS3.4 Annex B).
_NON_IMAGE_PREFIXES = (
    "1.2.840.10008.5.1.4.1.1.88.",  # structured reports, key object selection
    "1.2.840.10008.5.1.4.1.1.11.",  # presentation states
    "1.2.840.10008.5.1.4.1.1.104.",  # encapsulated PDF/CDA
    "1.2.840.10008.5.1.4.1.1.66",  # raw data, spatial registration, fiducials, segmentation surface
    "1.2.840.10008.5.1.4.1.1.481.",  # RT objects
    "1.2.840.10008.5.1.4.1.1.9.",  # waveforms
)
#: Secondary capture (screenshots): images, but not an acquired volume.
_SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"
_LOCALISER_WORDS = re.compile(r"\b(locali[sz]er|scout|survey|3[- ]?pl(ane)?\s*loc|tri[- ]?pilot|aahead_scout)\b", re.I)
#: Relative tolerance on slice spacing before a stack is called uneven (IPPs are rounded on export).
SPACING_TOLERANCE = 0.02
#: Largest angle (degrees) between the slice normal and the stacking direction before "gantry tilt".
TILT_TOLERANCE_DEG = 0.5
#: Largest difference between image orientation cosines within one series.
ORIENTATION_TOLERANCE = 1e-4


@dataclass(frozen=True)
class SeriesInfo:
    """One series found under a folder: what the picker, header bar and worklist show.

    Attributes
    ----------
    series_uid, study_uid : str
        Series / Study Instance UID (0020,000E) / (0020,000D).
    series_number : int or None
    series_description, study_description, modality : str
    patient_name, patient_id, birth_date, study_date : str
        Identifiers as stored (dates as ``YYYY-MM-DD`` when they parse).
    manufacturer, scanner, field_strength_t : str
        Manufacturer, Manufacturer's Model Name, Magnetic Field Strength (tesla) as text.
    n_images : int
        Number of image frames (slices) in the series, over all its files.
    voxel_mm : tuple of float or None
        (column spacing, row spacing, slice spacing) in mm, from the tags.
    orientation : str
        ``axial``, ``coronal``, ``sagittal``, optionally prefixed ``oblique``, or ``mixed``.
    t2_weighted : bool
        Looks like a T2-weighted acquisition (:func:`model.acquisition.t2_weighting`: description or
        protocol, else TE >= 60 ms and TR >= 1500 ms without an inversion pulse).
    files : tuple of Path
        The files of the series (sorted by name).
    problem : str or None
        Why the series cannot be analysed (one line), or None.
    acquisition : Acquisition or None
        Descriptions and TE/TR/TI of its first file (:mod:`model.acquisition`).
    """

    series_uid: str
    study_uid: str
    series_number: int | None
    series_description: str
    study_description: str
    modality: str
    patient_name: str
    patient_id: str
    birth_date: str
    study_date: str
    manufacturer: str
    scanner: str
    field_strength_t: str
    n_images: int
    voxel_mm: tuple | None
    orientation: str
    t2_weighted: bool
    files: tuple = field(repr=False)
    problem: str | None = None
    acquisition: Acquisition | None = None

    @property
    def loadable(self) -> bool:
        """True when the series passed every check (it may still fail in conversion)."""
        return self.problem is None

    @property
    def folder(self) -> Path:
        """Deepest folder holding every file of the series."""
        return Path(os.path.commonpath([str(p.parent) for p in self.files]))

    def voxel_text(self) -> str:
        """Voxel size as ``0.94 x 0.94 x 1.20 mm`` (empty when unknown)."""
        return "" if not self.voxel_mm else " x ".join(f"{v:.2f}" for v in self.voxel_mm) + " mm"

    def label(self) -> str:
        """One line for a list: number, description, modality, images, voxel size, orientation, date."""
        number = "-" if self.series_number is None else str(self.series_number)
        text = (
            f"series {number}: {self.series_description or '(no description)'} | {self.modality or '?'} | "
            f"{self.n_images} image(s) | {self.voxel_text() or 'voxel size unknown'} | {self.orientation} | "
            f"{self.study_date or 'no date'}"
        )
        if self.t2_weighted:
            text += " | T2-weighted"
        if self.problem:
            text += f" | not analysable: {self.problem}"
        return text

    def identifiers(self) -> dict:
        """Identifiers for the header bar and report, in display order (label -> text)."""
        return {
            "Patient name": self.patient_name,
            "Patient ID": self.patient_id,
            "Birth date": self.birth_date,
            "Study date": self.study_date,
            "Study": self.study_description,
            "Series": self.series_description,
            "Scanner": " ".join(s for s in (self.manufacturer, self.scanner) if s),
            "Field strength": f"{self.field_strength_t} T" if self.field_strength_t else "",
        }

    def record(self) -> dict:
        """UIDs only (no names): what the audit log and worklist keep about the series."""
        return {
            "study_uid": self.study_uid,
            "series_uid": self.series_uid,
            "series_number": self.series_number,
            "series_description": self.series_description,
        }


# ----------------------------------------------------------------------------------------------
# Description and checks
# ----------------------------------------------------------------------------------------------


def _text(ds, keyword: str) -> str:
    value = ds.get(keyword, "")
    return "" if value is None else str(value).strip()


def _tesla(ds) -> str:
    """Magnetic Field Strength as short text (``3``, ``1.5``; empty when absent)."""
    try:
        return f"{float(ds.get('MagneticFieldStrength')):g}"
    except (TypeError, ValueError):
        return ""


def _date(value: str) -> str:
    value = (value or "").strip()
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if re.fullmatch(r"\d{8}", value) else value


def frame_geometry(ds) -> list[tuple[np.ndarray, np.ndarray, tuple]]:
    """(IOP (6,), IPP (3,), pixel spacing (2,)) for each frame of a dataset (classic or enhanced)."""
    n = int(ds.get("NumberOfFrames", 1) or 1)
    if "PerFrameFunctionalGroupsSequence" in ds:
        shared = ds.get("SharedFunctionalGroupsSequence", [None])[0]

        def item(group, name):
            for g in (group, shared):
                if g is not None and name in g and len(g[name].value):
                    return g[name].value[0]
            return None

        out = []
        for group in ds.PerFrameFunctionalGroupsSequence:
            pos, ori, meas = (
                item(group, k) for k in ("PlanePositionSequence", "PlaneOrientationSequence", "PixelMeasuresSequence")
            )
            if pos is None or ori is None:
                return []
            spacing = tuple(float(v) for v in meas.PixelSpacing) if meas is not None and "PixelSpacing" in meas else ()
            out.append(
                (np.array(ori.ImageOrientationPatient, float), np.array(pos.ImagePositionPatient, float), spacing)
            )
        return out
    if "ImageOrientationPatient" not in ds or "ImagePositionPatient" not in ds:
        return []
    spacing = tuple(float(v) for v in ds.PixelSpacing) if "PixelSpacing" in ds else ()
    frame = (np.array(ds.ImageOrientationPatient, float), np.array(ds.ImagePositionPatient, float), spacing)
    return [frame] * n if n > 1 else [frame]


def _orientation_name(iop: np.ndarray) -> str:
    normal = np.cross(iop[:3], iop[3:])
    axis = int(np.argmax(np.abs(normal)))
    name = ("sagittal", "coronal", "axial")[axis]
    angle = np.degrees(np.arccos(np.clip(abs(normal[axis]) / np.linalg.norm(normal), 0.0, 1.0)))
    return f"oblique {name}" if angle > 1.0 else name


def describe_series(uid: str, members: list) -> SeriesInfo:
    """The :class:`SeriesInfo` of one series: ``members`` are its ``(path, pydicom dataset)`` pairs
    (headers only; sorted here by path), ``uid`` its Series Instance UID."""
    members.sort(key=lambda m: str(m[0]))
    first = members[0][1]
    frames = [f for _path, ds in members for f in frame_geometry(ds)]
    n_images = sum(int(ds.get("NumberOfFrames", 1) or 1) for _p, ds in members if "Rows" in ds)
    problem = _problem(members, frames)
    voxel = None
    orientation = "unknown"
    if frames:
        iops = np.array([f[0] for f in frames])
        orientation = "mixed" if np.ptp(iops, axis=0).max() > ORIENTATION_TOLERANCE else _orientation_name(iops[0])
        if frames[0][2]:
            row_mm, col_mm = frames[0][2]
            slice_mm = _slice_spacing(frames)
            voxel = (col_mm, row_mm, slice_mm if slice_mm is not None else float(first.get("SliceThickness") or 0))
    number = first.get("SeriesNumber")
    try:
        number = int(number) if number not in (None, "") else None
    except (TypeError, ValueError):
        number = None
    acquisition = from_dicom(first)  # descriptions and TE/TR/TI (model.acquisition)
    return SeriesInfo(
        series_uid=uid,
        study_uid=_text(first, "StudyInstanceUID"),
        series_number=number,
        series_description=_text(first, "SeriesDescription"),
        study_description=_text(first, "StudyDescription"),
        modality=_text(first, "Modality"),
        patient_name=_text(first, "PatientName").replace("^", " ").strip(),
        patient_id=_text(first, "PatientID"),
        birth_date=_date(_text(first, "PatientBirthDate")),
        study_date=_date(_text(first, "SeriesDate") or _text(first, "StudyDate")),
        manufacturer=_text(first, "Manufacturer"),
        scanner=_text(first, "ManufacturerModelName"),
        field_strength_t=_tesla(first),
        n_images=n_images,
        voxel_mm=voxel,
        orientation=orientation,
        t2_weighted=t2_weighting(acquisition)[0] is True and problem is None,
        files=tuple(p for p, _ds in members),
        problem=problem,
        acquisition=acquisition,
    )


def _slice_spacing(frames) -> float | None:
    iop = frames[0][0]
    normal = np.cross(iop[:3], iop[3:])
    pos = np.sort(np.array([f[1] for f in frames]) @ normal)
    d = np.diff(pos)
    d = d[d > 1e-6]
    return float(np.median(d)) if d.size else None


def _problem(members: list, frames: list) -> str | None:  # noqa: C901 - one flat list of refusal checks
    """One-line reason why a series cannot be analysed, or None (the refusal checks)."""
    from pydicom.uid import UID

    sop_classes = {str(ds.get("SOPClassUID", "")) for _p, ds in members}
    for sop in sorted(sop_classes):
        if sop.startswith(_NON_IMAGE_PREFIXES) or not all("Rows" in ds for _p, ds in members):
            name = UID(sop).name if sop else "an object without image data"
            return f"not an image series ({name})"
        if sop.startswith(_SECONDARY_CAPTURE_PREFIX):
            return f"a secondary capture ({UID(sop).name}), not an acquired volume"
    first = members[0][1]
    if len(sop_classes) > 1:
        return "mixes several kinds of DICOM object (" + ", ".join(UID(s).name for s in sorted(sop_classes)) + ")"
    image_type = "\\".join(str(v) for v in (first.get("ImageType") or [])).upper()
    words = " ".join(_text(first, k) for k in ("SeriesDescription", "ProtocolName"))
    if (
        "LOCALIZER" in image_type
        or "LOCALISER" in image_type
        or "SCOUT" in image_type
        or _LOCALISER_WORDS.search(words)
    ):
        return "a localiser (scout) series, not a diagnostic volume"
    if any(int(ds.get("SamplesPerPixel", 1) or 1) != 1 for _p, ds in members):
        return "colour (RGB) images; a greyscale MR volume is needed"
    sizes = sorted({(int(ds.Rows), int(ds.Columns)) for _p, ds in members})
    if len(sizes) > 1:
        return "images of different sizes in one series (" + ", ".join(f"{r}x{c}" for r, c in sizes) + ")"
    if not frames:
        return "no slice position or orientation (Image Position/Orientation Patient) in the tags"
    iops = np.array([f[0] for f in frames])
    if np.ptp(iops, axis=0).max() > ORIENTATION_TOLERANCE:
        return "slices with different orientations in one series (e.g. a 3-plane localiser)"
    spacings = {f[2] for f in frames}
    if len(spacings) > 1:
        return "slices with different pixel spacings in one series"
    if len(frames) < 3:
        return f"only {len(frames)} image(s); a 3D volume needs a stack of slices"
    if abs(float(first.get("GantryDetectorTilt") or 0.0)) > 1e-3:
        return (
            f"gantry tilt of {float(first.GantryDetectorTilt):.1f}° (sheared slices); not resampled here, "
            "reconstruct the series without tilt"
        )
    iop = iops[0]
    normal = np.cross(iop[:3], iop[3:])
    normal /= np.linalg.norm(normal)
    positions = np.array([f[1] for f in frames])
    order = np.argsort(positions @ normal)
    positions = positions[order]
    along = positions @ normal
    d = np.diff(along)
    if np.any(d < 1e-3):
        n_unique = len(np.unique(np.round(along, 3)))
        return (
            f"{len(frames)} images at {n_unique} slice positions (several echoes, time points or "
            "repeated slices); open a single 3D series"
        )
    span = positions[-1] - positions[0]
    tilt = np.degrees(np.arccos(np.clip(abs(span @ normal) / np.linalg.norm(span), 0.0, 1.0)))
    if tilt > TILT_TOLERANCE_DEG:
        return (
            f"gantry tilt of {tilt:.1f}° (slices are sheared, not stacked along their normal); not resampled "
            "here, reconstruct the series without tilt"
        )
    spacing = float(np.median(d))
    bad = np.abs(d - spacing) > max(SPACING_TOLERANCE * spacing, 0.01)
    if bad.any():
        i = int(np.argmax(np.abs(d - spacing)))
        ratio = d[i] / spacing
        if ratio > 1.5 and abs(ratio - round(ratio)) < 0.1:
            missing = int(round(ratio)) - 1
            return (
                f"missing slices: a {d[i]:.2f} mm gap where the spacing is {spacing:.2f} mm "
                f"(about {missing} slice(s) missing at {along[i]:.1f} mm)"
            )
        return f"unevenly spaced slices ({d.min():.2f} to {d.max():.2f} mm apart; expected {spacing:.2f} mm)"
    return None


# ----------------------------------------------------------------------------------------------
# Text forms: command line, worklist, audit log
# ----------------------------------------------------------------------------------------------


def listing(series: list[SeriesInfo]) -> str:
    """Several series as lines of text (for the command line), with the series UID on each."""
    buf = io.StringIO()
    for s in series:
        buf.write(f"  {s.label()}\n      UID {s.series_uid}\n")
    return buf.getvalue()


def row_columns(series: SeriesInfo | None) -> dict:
    """Worklist columns for a DICOM series (empty strings for a NIfTI file)."""
    if series is None:
        return {"patient_id": "", "study_date": "", "study_uid": "", "series_uid": "", "series_description": ""}
    return {
        "patient_id": series.patient_id,
        "study_date": series.study_date,
        "study_uid": series.study_uid,
        "series_uid": series.series_uid,
        "series_description": series.series_description,
    }


def audit_fields(volume) -> dict:
    """What the audit log keeps about a DICOM input: Study/Series Instance UIDs and what the hash
    covers; never names or dates. Empty for a NIfTI file."""
    series = getattr(volume, "extra", {}).get("dicom") if volume is not None else None
    if series is None:
        return {}
    return {
        "study_uid": series.study_uid,
        "series_uid": series.series_uid,
        "input_sha256_of": "DICOM pixel data + geometry",
    }
