"""Finding scans in a folder: plain recursive discovery, or BIDS-aware (``sub-*/[ses-*/]anat/*_T2w``).

Shared by batch scoring (:mod:`model.score`) and training (:mod:`model.training.dataset`), so both
take exactly the same files from the same folder.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from model.volume import is_nifti_path

_SKIP_DIRS = {"derivatives", "sourcedata", "code"}
_ENTITY = re.compile(r"(?:^|[_/])(sub|ses)-([A-Za-z0-9]+)")


@dataclass(frozen=True)
class ScanEntry:
    """A scan found in a folder: its path, path relative to the folder, and BIDS entities."""

    path: Path
    relpath: str
    subject: str = ""
    session: str = ""


def is_bids(folder: Path) -> bool:
    """A folder is treated as BIDS when it has dataset_description.json or sub-* folders."""
    return (folder / "dataset_description.json").is_file() or any(
        p.is_dir() and p.name.startswith("sub-") for p in folder.iterdir()
    )


def discover(folder: str | Path, bids: bool | None = None) -> list[ScanEntry]:
    """Scans under ``folder``, sorted by relative path.

    Parameters
    ----------
    folder : str or Path
    bids : bool or None
        None detects it (:func:`is_bids`). In BIDS mode only ``*_T2w`` files inside ``anat``
        folders are kept, and ``derivatives``/``sourcedata``/``code`` are skipped.

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
    return found
