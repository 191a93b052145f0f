"""The batch worklist (a CSV, one row per scan) and the batch policy the CLI and the GUI share.

:data:`COLUMNS` are the worklist's columns, in order (documented in README.md);
:func:`read_worklist` / :func:`write_worklist` read and write it (atomically), and
:func:`merge_worklist` keeps the rows of earlier runs for files a run did not reach. The batch
policy: :func:`heatmaps_folder_problem` refuses a heatmaps folder inside the scans folder, and
:data:`OUTPUTS_INSIDE_INPUT` says the same for label maps and reports (:func:`is_inside`), so
``python -m model.score`` (:mod:`model.score`, which fills the rows) and the GUI's batch dialog
follow the same rules. No network or weights are involved here.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable

from model.fileio import write_bytes_atomic
from model.seg_outputs import MEASURE_COLUMNS

#: Worklist columns, in order (documented in README.md).
COLUMNS = [
    "file",
    "subject",
    "session",
    "status",
    "p_injury",
    "p_injury_identity",
    "p_injury_flipped",
    "tta_disagreement",
    "flag",
    "in_distribution",
    # the segmentation's main measures and findings (model.seg_outputs); empty without a decoder
    *MEASURE_COLUMNS,
    "quality_warnings",
    "reason",
    "input_sha256",
    "weights_sha256",
    "model",
    "cam_file",
    "seg_file",
    "report_file",
    "scored_utc",
    # out-of-distribution gate (model.ood_gate)
    "ood_score",
    "ood_threshold",
    "ood_reasons",
    # DICOM series (empty for NIfTI files); see model.dicom.row_columns
    "patient_id",
    "study_date",
    "study_uid",
    "series_uid",
    "series_description",
    "dicom_export",
]

#: Why a heatmaps folder inside the scans folder is refused (the CLI and the dialog say the same).
HEATMAPS_INSIDE_INPUT = (
    "heatmaps cannot go into the scans folder (they would be found and scored as scans next "
    "time); choose another folder"
)
#: The same for label maps and reports.
OUTPUTS_INSIDE_INPUT = (
    "{what} cannot go into the scans folder (we never write into an input folder; label maps would be "
    "found and scored as scans next time); choose another folder"
)


# -- batch policy: the rules the CLI and the GUI's batch dialog share ------------------------------
def is_inside(path: str | Path, folder: str | Path) -> bool:
    """True when ``path`` is ``folder`` or lies anywhere below it (both resolved, links followed)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def heatmaps_folder_problem(cams_dir: str | Path | None, scans_folder: str | Path) -> str | None:
    """Why ``cams_dir`` cannot hold the heatmaps of a batch over ``scans_folder``, or None when it can.

    Heatmaps are NIfTI files; written anywhere inside the scans folder they would be discovered as
    scans by the next run. We never write into input folders.
    """
    if cams_dir is not None and is_inside(cams_dir, scans_folder):
        return HEATMAPS_INSIDE_INPUT
    return None


def merge_worklist(rows: list[dict], previous: list[dict]) -> list[dict]:
    """This run's ``rows``, then the earlier rows of files this run did not reach (by ``file``).

    What an interrupted, cancelled or partial run writes: nothing scored before is lost, and a file
    reached again is replaced by its new row.
    """
    reached = {r.get("file") for r in rows}
    return list(rows) + [r for r in previous if r.get("file") not in reached]


def read_worklist(path: str | Path) -> list[dict]:
    """Rows of a worklist CSV written by :func:`write_worklist` (empty list when absent)."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_worklist(path: str | Path, rows: Iterable[dict]) -> None:
    """Write worklist rows as CSV (columns :data:`COLUMNS`) atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_bytes_atomic(path, buf.getvalue().encode("utf-8"))
