"""DICOM discovery: the files under a folder that may be DICOM, their headers, grouped into series.

:func:`find_series` reads every candidate file's header (pydicom, without pixel data), groups them
by Series Instance UID and describes each group (:func:`model.dicom.series.describe_series`);
:func:`image_series` and :func:`select_series` narrow the result down to the series a reader can
pick. Imports :mod:`model.dicom.series` only.
"""

from __future__ import annotations

import logging
from pathlib import Path

from model.dicom.series import SeriesInfo, describe_series
from model.errors import ScanError
from model.volume import is_nifti_path

log = logging.getLogger("model.dicom")

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
    series = [describe_series(uid, members) for uid, members in groups.items()]
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
