"""The post-menstrual age (PMA) at scan, from the scan's own metadata: :func:`pma_for`.

The age references of :mod:`model.norms` need the PMA (gestational age at birth + postnatal age, in
weeks). The reader can always type it; this module finds it where a site's data already say it,
most specific first:

1. a JSON sidecar next to a NIfTI file (``<name>.json``, as BIDS and dcm2niix write them, found the
   way :mod:`model.acquisition` finds it) with ``PostMenstrualAge``, ``pma_weeks`` or ``pma``;
2. a BIDS ``sub-<label>/sub-<label>_sessions.tsv`` (BIDS 1.9, "Sessions file"), in the row whose
   ``session_id`` is the scan's ``ses-<label>``, column ``pma_weeks``, ``pma`` or
   ``age_at_scan_pma``;
3. for a scan without a session, the dataset's ``participants.tsv``, row ``participant_id`` =
   ``sub-<label>``, the same columns;
4. a DICOM header. DICOM has **no standard attribute for PMA**: Patient's Age (0010,1010) is the
   *postnatal* age (an ``nnnD``/``nnnW`` age string since birth), and using it as PMA would be wrong
   by the whole gestation, so it is never read. Some sites write the PMA as text into Additional
   Patient History (0010,21B0) or Patient Comments (0010,4000); a value there is taken only when it
   is explicitly labelled (``PMA 36+2``, ``post-menstrual age: 36.3 weeks``, ``CGA 40w``).

Values are weeks, as a number (``36.5``) or weeks+days (``36+3``, ``36w3d``); anything outside
20-60 weeks is not a PMA in weeks (days or years, or a typo) and is ignored, as are unreadable
files: the scan is then analysed with "PMA unknown".
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

#: Plausible PMA range (weeks); values outside are ignored.
PMA_RANGE = (20.0, 60.0)
#: Sidecar keys, in order of preference.
SIDECAR_KEYS = ("PostMenstrualAge", "pma_weeks", "pma")
#: sessions.tsv / participants.tsv columns, in order of preference.
TSV_COLUMNS = ("pma_weeks", "pma", "age_at_scan_pma")
#: Free-text DICOM attributes searched for an explicitly labelled PMA.
DICOM_TEXT_KEYWORDS = ("AdditionalPatientHistory", "PatientComments")
_MAX_TEXT_BYTES = 1_000_000
_ENTITY = re.compile(r"(?:^|[_/])(sub|ses)-([A-Za-z0-9]+)")
_WEEKS_DAYS = re.compile(
    r"^\s*(\d{2}(?:\.\d+)?)\s*(?:w(?:(?:ee)?ks?)?)?\s*(?:\+\s*(\d)\s*(?:d(?:ays?)?)?|(\d)\s*d(?:ays?)?)?\s*$", re.I
)
_LABELLED = re.compile(
    r"(?:\bPMA\b|post[- ]?menstrual\s+age|corrected\s+gestational\s+age|\bCGA\b)\s*[:=]?\s*"
    r"(\d{2}(?:\.\d+)?)\s*(?:w(?:(?:ee)?ks?)?)?\s*(?:\+\s*(\d)|(\d)\s*d)?",
    re.I,
)


def parse_weeks(value) -> float | None:
    """A PMA in weeks from a number or text (``36.5``, ``"36+3"``, ``"36w3d"``); None when not one.

    Returns None for values outside :data:`PMA_RANGE`, booleans, NaN and unparseable text.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        weeks = float(value)
    else:
        hit = _WEEKS_DAYS.match(str(value))
        if not hit:
            return None
        days = hit.group(2) or hit.group(3)
        weeks = float(hit.group(1)) + (int(days) / 7.0 if days else 0.0)
    if not (weeks == weeks and PMA_RANGE[0] <= weeks <= PMA_RANGE[1]):
        return None
    return weeks


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".nii.gz", ".nii"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return path.stem


def _from_sidecar(path: Path) -> tuple[float | None, str]:
    sidecar = path.with_name(_stem(path) + ".json")
    try:
        if not sidecar.is_file() or sidecar.stat().st_size > _MAX_TEXT_BYTES:
            return None, ""
        meta = json.loads(sidecar.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return None, ""
    if not isinstance(meta, dict):
        return None, ""
    for key in SIDECAR_KEYS:
        weeks = parse_weeks(meta.get(key))
        if weeks is not None:
            return weeks, f"JSON sidecar {sidecar.name} ({key})"
    return None, ""


def _tsv_value(tsv: Path, id_column: str, id_value: str) -> tuple[float | None, str]:
    try:
        if not tsv.is_file() or tsv.stat().st_size > _MAX_TEXT_BYTES:
            return None, ""
        rows = list(csv.DictReader(tsv.read_text(encoding="utf-8-sig", errors="replace").splitlines(), delimiter="\t"))
    except (OSError, csv.Error):
        return None, ""
    for row in rows:
        if (row.get(id_column) or "").strip() != id_value:
            continue
        for column in TSV_COLUMNS:
            weeks = parse_weeks((row.get(column) or "").strip())
            if weeks is not None:
                return weeks, f"{tsv.name} ({column})"
    return None, ""


def _from_bids(path: Path) -> tuple[float | None, str]:
    subject_dir = next((p for p in path.parents if p.name.startswith("sub-")), None)
    if subject_dir is None:
        return None, ""
    rel = path.relative_to(subject_dir.parent).as_posix()
    entities = dict(_ENTITY.findall(rel))
    subject = subject_dir.name
    if entities.get("ses"):
        return _tsv_value(subject_dir / f"{subject}_sessions.tsv", "session_id", f"ses-{entities['ses']}")
    return _tsv_value(subject_dir.parent / "participants.tsv", "participant_id", subject)


def _dicom_files(path: Path, limit: int = 20) -> list[Path]:
    if path.is_file():
        return [path]
    out = []
    for p in sorted(path.rglob("*")):
        if p.is_file() and not p.name.startswith(".") and p.name.upper() != "DICOMDIR":
            out.append(p)
            if len(out) >= limit:
                break
    return out


def pma_from_dicom_text(text: str) -> float | None:
    """An explicitly labelled PMA in free text (``"PMA 36+2"``, ``"postmenstrual age: 36.3 weeks"``), or None."""
    hit = _LABELLED.search(text or "")
    if not hit:
        return None
    days = hit.group(2) or hit.group(3)
    return parse_weeks(float(hit.group(1)) + (int(days) / 7.0 if days else 0.0))


def _from_dicom(path: Path) -> tuple[float | None, str]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    for file in _dicom_files(path):
        try:
            ds = pydicom.dcmread(file, stop_before_pixels=True, specific_tags=list(DICOM_TEXT_KEYWORDS))
        except (InvalidDicomError, EOFError, OSError, ValueError, TypeError, KeyError, AttributeError):
            continue
        for keyword in DICOM_TEXT_KEYWORDS:
            weeks = pma_from_dicom_text(str(ds.get(keyword) or ""))
            if weeks is not None:
                return weeks, f"DICOM header ({keyword}, free text)"
        return None, ""  # the first DICOM file of the series speaks for it
    return None, ""


def pma_for(path: str | Path) -> tuple[float | None, str]:
    """The scan's PMA in weeks and where it was found, or ``(None, "")`` (see the module docstring).

    Parameters
    ----------
    path : str or Path
        A NIfTI file, a DICOM file, or a DICOM folder.

    Returns
    -------
    (float or None, str)
        Weeks, and the source for the report (``"JSON sidecar x.json (PostMenstrualAge)"``,
        ``"sub-01_sessions.tsv (pma_weeks)"``, ``"participants.tsv (pma)"``,
        ``"DICOM header (AdditionalPatientHistory, free text)"``). Never raises for unreadable or
        missing metadata.
    """
    path = Path(path)
    name = path.name.lower()
    if path.is_file() and (name.endswith(".nii") or name.endswith(".nii.gz")):
        for finder in (_from_sidecar, _from_bids):
            weeks, source = finder(path)
            if weeks is not None:
                return weeks, source
        return None, ""
    if path.exists():
        return _from_dicom(path)
    return None, ""
