"""Finding scans in a folder: plain recursive discovery, or BIDS-aware (``sub-*/[ses-*/]anat/*_T2w``).

Plain discovery also takes every DICOM image series under the folder (:func:`model.dicom.find_series`),
one entry per series; BIDS discovery takes NIfTI only (BIDS keeps DICOM in ``sourcedata``).

Shared by batch scoring (:mod:`model.score`) and training (:mod:`model.training.dataset`), so both
take exactly the same files from the same folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.volume import is_nifti_path

_SKIP_DIRS = {"derivatives", "sourcedata", "code"}
_ENTITY = re.compile(r"(?:^|[_/])(sub|ses)-([A-Za-z0-9]+)")


@dataclass(frozen=True)
class ScanEntry:
    """A scan found in a folder: its path, path relative to the folder, and BIDS entities.

    For a DICOM series ``path`` is the series' folder, ``relpath`` is
    ``<folder relative to the root>/series-<number>`` and ``series`` its :class:`model.dicom.SeriesInfo`.
    """

    path: Path
    relpath: str
    subject: str = ""
    session: str = ""
    series: Any = None  # model.dicom.SeriesInfo (typed loosely: bids must not import dicom at import time)


def is_bids(folder: Path) -> bool:
    """A folder is treated as BIDS when it has dataset_description.json or sub-* folders."""
    return (folder / "dataset_description.json").is_file() or any(
        p.is_dir() and p.name.startswith("sub-") for p in folder.iterdir()
    )


def discover(folder: str | Path, bids: bool | None = None, dicom: bool = True) -> list[ScanEntry]:
    """Scans under ``folder``, sorted by relative path.

    Parameters
    ----------
    folder : str or Path
    bids : bool or None
        None detects it (:func:`is_bids`). In BIDS mode only ``*_T2w`` files inside ``anat``
        folders are kept, and ``derivatives``/``sourcedata``/``code`` are skipped.
    dicom : bool
        Outside BIDS mode, also list each DICOM image series (after the NIfTI files).

    Raises
    ------
    NotADirectoryError
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: not a folder")
    bids = is_bids(folder) if bids is None else bids
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        parts = rel.parts
        if any(p.startswith(".") for p in parts) or not path.is_file() or not is_nifti_path(path):
            continue
        if bids:
            if parts[0] in _SKIP_DIRS or "anat" not in parts[:-1]:
                continue
            if not re.search(r"_T2w\.nii(\.gz)?$", path.name):
                continue
        entities = dict(_ENTITY.findall(rel.as_posix()))
        found.append(ScanEntry(path, rel.as_posix(), entities.get("sub", ""), entities.get("ses", "")))
    if dicom and not bids:
        found.extend(_dicom_entries(folder))
    return found


def _dicom_entries(folder: Path) -> list[ScanEntry]:
    from model.dicom import find_series, image_series

    entries, seen = [], set()
    for series in sorted(image_series(find_series(folder)), key=lambda s: (str(s.folder), s.series_number or 0)):
        rel = series.folder.relative_to(folder).as_posix()
        name = f"series-{series.series_number}" if series.series_number is not None else f"series-{series.series_uid}"
        if (rel, name) in seen:  # two series with one number in one folder: name them by UID
            name = f"series-{series.series_uid}"
        seen.add((rel, name))
        relpath = name if rel == "." else f"{rel}/{name}"
        entities = dict(_ENTITY.findall(rel))
        entries.append(ScanEntry(series.folder, relpath, entities.get("sub", ""), entities.get("ses", ""), series))
    return entries
