"""DICOM input: find the image series under a folder, describe them, load one as a :class:`Volume`.

What is whose, and why
----------------------
* **pydicom** reads the tags: discovery (files with or without an extension, a ``DICOMDIR`` when
  there is one), the description shown in the series picker, the identifiers shown in the header
  bar, the refusal checks below, and the stored Pixel Data bytes that go into the hash.
* **dcm2niix** (the PyPI wheel of Chris Rorden's converter; its build includes OpenJPEG and CharLS)
  converts pixels and geometry: slice ordering, vendor quirks, classic and enhanced multi-frame
  MR, JPEG / JPEG-LS / JPEG 2000 / RLE decompression, Rescale Slope/Intercept (kept as NIfTI
  ``scl_slope``/``scl_inter``, applied by nibabel). It is the field's reference: the NIfTI files
  our users compare with (dHCP, BIDS datasets) were made with it, so running it - rather than
  re-deriving an affine with pydicom + nibabel, or adding SimpleITK/GDCM's own LPS slice sorting
  and its partial enhanced-MR support - makes "same geometry as dcm2niix" true by construction.
  It runs on symbolic links to one series' files in a temporary folder, never in the input folder.
* **Ours**: only the checks that refuse a series with a one-line reason *before* conversion
  (dcm2niix converts many of these with a warning, which a reader would never see): non-image
  objects (structured reports, presentation states, ...), secondary captures, localisers, mixed
  orientations or image sizes, several images at one position, missing or unevenly spaced slices,
  and gantry tilt. A tilted (sheared) stack is **refused**, not resampled: resampling would change
  the intensities the network sees, and tilt is a CT artefact that an MR brain series should not
  have.

After conversion the volume follows exactly the NIfTI path (:func:`model.volume.volume_from_image`):
closest canonical RAS+, the same checks and, downstream, the same preprocessing. Its ``sha256`` is
the SHA-256 of the series' stored pixel data and geometry (:func:`series_hash`).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import nibabel as nib
import numpy as np

from model.acquisition import Acquisition, from_dicom, t2_weighting
from model.errors import ScanError
from model.volume import Volume, is_nifti_path, volume_from_image

log = logging.getLogger("model.dicom")

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
#: File name endings that are certainly not DICOM (skipped without reading).
_NOT_DICOM_SUFFIXES = {
    ".json",
    ".tsv",
    ".csv",
    ".txt",
    ".md",
    ".png",
    ".jpg",
    ".jpeg",
    ".pdf",
    ".gz",
    ".nii",
    ".py",
    ".xml",
    ".html",
    ".zip",
    ".bval",
    ".bvec",
    ".jsonl",
    ".ini",
}
_LOCALISER_WORDS = re.compile(r"\b(locali[sz]er|scout|survey|3[- ]?pl(ane)?\s*loc|tri[- ]?pilot|aahead_scout)\b", re.I)
#: Relative tolerance on slice spacing before a stack is called uneven (IPPs are rounded on export).
SPACING_TOLERANCE = 0.02
#: Largest angle (degrees) between the slice normal and the stacking direction before "gantry tilt".
TILT_TOLERANCE_DEG = 0.5
#: Largest difference between image orientation cosines within one series.
ORIENTATION_TOLERANCE = 1e-4
DCM2NIIX_TIMEOUT_S = 600


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
# Discovery
# ----------------------------------------------------------------------------------------------


def _read_header(path: Path):
    """pydicom dataset without pixel data, or None when the file is not DICOM."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, EOFError, OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.debug("%s: not read as DICOM (%s)", path, exc)
        return None


def _dicomdir_files(folder: Path) -> list[Path] | None:
    """Files referenced by ``folder/DICOMDIR`` (pydicom FileSet), or None when there is none/it is unreadable."""
    dicomdir = next((p for p in (folder / "DICOMDIR", folder / "dicomdir") if p.is_file()), None)
    if dicomdir is None:
        return None
    try:
        from pydicom.fileset import FileSet

        fs = FileSet(dicomdir)
        paths = [Path(inst.path) for inst in fs]
    except Exception as exc:  # noqa: BLE001 - any damage in a DICOMDIR means: walk the folder instead
        log.warning("%s: DICOMDIR unreadable (%s); searching the folder instead", dicomdir, exc)
        return None
    return [p for p in paths if p.is_file()]


def candidate_files(folder: Path) -> list[Path]:
    """Files under ``folder`` that may be DICOM: those a DICOMDIR lists, else every file not hidden,
    not named DICOMDIR and without an extension that is certainly something else."""
    listed = _dicomdir_files(folder)
    if listed is not None:
        return sorted(listed)
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(p.startswith(".") for p in rel.parts) or not path.is_file():
            continue
        if path.name.upper() == "DICOMDIR" or path.suffix.lower() in _NOT_DICOM_SUFFIXES or is_nifti_path(path):
            continue
        out.append(path)
    return out


def find_series(folder: str | Path) -> list[SeriesInfo]:
    """Every series under ``folder`` (recursively), analysable ones first, T2-weighted first.

    Parameters
    ----------
    folder : str or Path
        A folder (a scanner or PACS export, a CD with a DICOMDIR) or a single DICOM file (its
        folder is searched).

    Returns
    -------
    list of SeriesInfo
        Sorted: analysable before not, T2-weighted before other, then series number. Non-DICOM
        files are ignored. Empty when no DICOM file was found.

    Raises
    ------
    ScanError
        When ``folder`` does not exist.
    """
    folder = Path(folder)
    if not folder.exists():
        raise ScanError(folder, "folder not found")
    if folder.is_file():
        folder = folder.parent
    groups: dict[str, list] = {}
    for path in candidate_files(folder):
        ds = _read_header(path)
        if ds is None:
            continue
        uid = str(ds.get("SeriesInstanceUID", "")) or f"(no series UID) {path.parent}"
        groups.setdefault(uid, []).append((path, ds))
    series = [_describe(uid, members) for uid, members in groups.items()]
    series.sort(
        key=lambda s: (
            not s.loadable,
            not s.t2_weighted,
            s.series_number if s.series_number is not None else 1 << 30,
            s.series_uid,
        )
    )
    return series


def image_series(series: list[SeriesInfo]) -> list[SeriesInfo]:
    """The series a reader can pick: images (analysable or refused with a reason), not SR/PR objects."""
    return [s for s in series if not s.problem or not s.problem.startswith("not an image")]


def select_series(series: list[SeriesInfo], key: str) -> SeriesInfo:
    """Pick a series by series number (digits) or Series Instance UID.

    Raises
    ------
    LookupError
        Nothing matches, or a series number matches several series (then pass the UID).
    """
    key = str(key).strip()
    matches = [s for s in series if s.series_uid == key]
    if not matches and key.isdigit():
        matches = [s for s in series if s.series_number == int(key)]
    if not matches:
        raise LookupError(f"no series with number or UID {key!r}")
    if len(matches) > 1:
        raise LookupError(
            f"series number {key} is used by {len(matches)} series; pass the Series Instance UID: "
            + ", ".join(s.series_uid for s in matches)
        )
    return matches[0]


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


def _frames(ds) -> list[tuple[np.ndarray, np.ndarray, tuple]]:
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


def _describe(uid: str, members: list) -> SeriesInfo:
    members.sort(key=lambda m: str(m[0]))
    first = members[0][1]
    frames = [f for _path, ds in members for f in _frames(ds)]
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
# Loading
# ----------------------------------------------------------------------------------------------


def dcm2niix_path() -> str:
    """Path of the dcm2niix executable of the ``dcm2niix`` PyPI package (else the one on PATH)."""
    try:
        import dcm2niix

        return str(dcm2niix.bin)
    except (ImportError, AttributeError):
        return "dcm2niix"


def series_hash(files, affine: np.ndarray, shape: tuple) -> str:
    """SHA-256 (hex) of a series' stored pixel data and geometry.

    The digest covers, in this order: each file's Pixel Data element value as stored (compressed
    bytes for an encapsulated transfer syntax), files ordered by SOP Instance UID; then the
    volume's spatial shape and its voxel-to-world affine (float64, mm, RAS+, rounded to 1e-6 mm).
    Tags other than Pixel Data (names, dates) do not change it, so anonymising a series keeps the
    hash, and resampled or re-ordered pixel data does not.
    """
    import pydicom

    items = []
    for path in files:
        ds = pydicom.dcmread(path)
        items.append((str(ds.get("SOPInstanceUID", "")), str(path), ds))
    digest = hashlib.sha256(b"gloresnet-dicom-series-v1\n")
    for _uid, _path, ds in sorted(items, key=lambda t: (t[0], t[1])):
        elem = ds.get((0x7FE0, 0x0010))
        digest.update(b"" if elem is None else bytes(elem.value))
    digest.update(json.dumps([list(map(int, shape)), np.round(np.asarray(affine, float), 6).tolist()]).encode())
    return digest.hexdigest()


def _convert(series: SeriesInfo) -> tuple[nib.Nifti1Image, list[str]]:
    """Run dcm2niix on links to the series' files; the NIfTI image (in memory) and its warnings."""
    with tempfile.TemporaryDirectory(prefix="gloresnet-dcm2niix-") as tmp:
        src, out = Path(tmp) / "in", Path(tmp) / "out"
        src.mkdir()
        out.mkdir()
        for i, path in enumerate(series.files):
            os.symlink(Path(path).resolve(), src / f"{i:06d}.dcm")
        cmd = [dcm2niix_path(), "-b", "n", "-z", "n", "-f", "series", "-o", str(out), str(src)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=DCM2NIIX_TIMEOUT_S, check=False)
        except FileNotFoundError as exc:
            raise ScanError(series.folder, "the dcm2niix converter is not installed (pip install dcm2niix)") from exc
        except subprocess.TimeoutExpired as exc:
            raise ScanError(series.folder, f"dcm2niix did not finish within {DCM2NIIX_TIMEOUT_S} s") from exc
        lines = (proc.stdout + "\n" + proc.stderr).splitlines()
        warnings = [ln.strip() for ln in lines if ln.strip().lower().startswith(("warning", "error"))]
        made = sorted(out.glob("*.nii"))
        if not made:
            why = warnings[-1] if warnings else (lines[-1].strip() if lines else f"exit code {proc.returncode}")
            raise ScanError(series.folder, f"dcm2niix could not convert series {series.series_number}: {why[:200]}")
        if len(made) > 1:
            raise ScanError(
                series.folder,
                f"dcm2niix split series {series.series_number} into {len(made)} volumes "
                "(several echoes, phases or slice groups); open a single 3D series",
            )
        raw = made[0].read_bytes()
    img = nib.Nifti1Image.from_bytes(raw)
    return img, warnings


def load_series(series: SeriesInfo, compute_hash: bool = True) -> Volume:
    """Load one series as a :class:`Volume` (closest canonical RAS+, like a NIfTI file).

    Parameters
    ----------
    series : SeriesInfo
        From :func:`find_series`.
    compute_hash : bool
        Compute :func:`series_hash` into ``Volume.sha256``.

    Returns
    -------
    Volume
        ``data`` float32 (X, Y, Z) with Rescale Slope/Intercept applied; ``source_affine`` is
        dcm2niix's grid (what ``--cam-out`` writes on); ``path`` the series' folder;
        ``extra["dicom"]`` the :class:`SeriesInfo`; ``extra["acquisition"]`` its
        :class:`model.acquisition.Acquisition`; ``extra["hash_of"]`` says what the hash covers;
        ``extra["converter"]`` and ``extra["converter_warnings"]``.

    Raises
    ------
    ScanError
        The series' :attr:`SeriesInfo.problem`, a conversion failure, or the NIfTI checks.
    """
    if series.problem:
        raise ScanError(series.folder, f"series {series.series_number}: {series.problem}")
    img, warnings = _convert(series)
    volume = volume_from_image(img, path=series.folder)
    slope, inter = _rescale(series)
    if volume.header is not None:
        volume.header = replace(volume.header, scl_slope=slope, scl_inter=inter)
    if compute_hash:
        volume.sha256 = series_hash(series.files, volume.affine, volume.shape)
    volume.extra.update(
        dicom=series,
        acquisition=series.acquisition,
        converter=_converter_version(),
        converter_warnings=warnings,
        hash_of="DICOM pixel data + geometry (model.dicom.series_hash)",
    )
    return volume


def _rescale(series: SeriesInfo) -> tuple[float | None, float | None]:
    import pydicom

    ds = pydicom.dcmread(series.files[0], stop_before_pixels=True)
    slope, inter = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is None and "SharedFunctionalGroupsSequence" in ds:
        shared = ds.SharedFunctionalGroupsSequence[0]
        if "PixelValueTransformationSequence" in shared:
            t = shared.PixelValueTransformationSequence[0]
            slope, inter = t.get("RescaleSlope"), t.get("RescaleIntercept")
    return (None if slope is None else float(slope)), (None if inter is None else float(inter))


def _converter_version() -> str:
    try:
        from importlib.metadata import version

        return f"dcm2niix {version('dcm2niix')}"
    except Exception:  # noqa: BLE001 - only a label
        return "dcm2niix"


def is_dicom_file(path: str | Path) -> bool:
    """True when pydicom reads ``path`` as a DICOM file (header only)."""
    return _read_header(Path(path)) is not None


def series_uid_of(path: str | Path) -> str:
    """Series Instance UID of a DICOM file ("" when it is not DICOM or has none)."""
    ds = _read_header(Path(path))
    return "" if ds is None else str(ds.get("SeriesInstanceUID", ""))


def is_dicom_input(path: str | Path) -> bool:
    """True for a folder, or for a file that is not NIfTI (it is then read as DICOM)."""
    path = Path(path)
    return path.is_dir() or (path.is_file() and not is_nifti_path(path))


def load_dicom(path: str | Path, series: str | None = None) -> Volume:
    """Load the one image series under ``path`` (a folder or a DICOM file), or the one ``series`` names.

    Parameters
    ----------
    path : str or Path
    series : str, optional
        Series number or Series Instance UID (:func:`select_series`); needed when there are several.

    Raises
    ------
    ScanError
        No image series, several without ``series``, an unknown ``series``, or the series' problem.
    """
    path = Path(path)
    found = image_series(find_series(path))
    if path.is_file():
        ds = _read_header(path)
        uid = str(ds.get("SeriesInstanceUID", "")) if ds is not None else ""
        found = [s for s in found if s.series_uid == uid] or found
    if not found:
        raise ScanError(path, "no DICOM image series found")
    if series is not None:
        try:
            chosen = select_series(found, series)
        except LookupError as exc:
            raise ScanError(path, str(exc)) from exc
    elif len(found) > 1:
        raise ScanError(path, f"{len(found)} image series found; choose one (series number or UID)")
    else:
        chosen = found[0]
    return load_series(chosen)


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
