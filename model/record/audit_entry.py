"""One entry of the reader's audit log: its fields, validated (:func:`decision_record`), its canonical
JSON and its SHA-256 (:func:`entry_hash`), and the error the log and its key raise (:class:`AuditLogError`).

Part of the audit log (:mod:`model.record.audit` describes the whole and re-exports every name
here). Imports nothing of the audit log's other parts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from model.errors import GloResNetError
from model.timestamps import utc_now
from model.vocabulary import AI_DECISIONS, DECISIONS, IMPRESSIONS, MEASURES, OVERRIDE_CALLS, SIDES

#: Version of the entry layout (for readers of old logs).
ENTRY_FORMAT = 1
#: Fields that are not hashed: the hash itself and the signature over it.
UNHASHED_FIELDS = ("hash", "signature")


class AuditLogError(GloResNetError):
    """The audit log cannot be read or appended to (the path and the reason)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def canonical_json(entry: dict) -> bytes:
    """The bytes that are hashed: keys sorted, no insignificant whitespace, UTF-8."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: dict) -> str:
    """SHA-256 (hex) of ``entry`` without its ``hash`` and ``signature`` fields (``prev_hash`` and
    ``signer`` included)."""
    body = {k: v for k, v in entry.items() if k not in UNHASHED_FIELDS}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def decision_record(  # noqa: PLR0913 - an entry's named fields, all keyword-only
    *,
    decision: str,
    reader: str,
    input_sha256: str | None,
    model_name: str | None,
    weights_sha256: str | None,
    probability: float | None,
    impression: str | None = None,
    reason: str = "",
    override_call: str | None = None,
    ai_shown: bool = True,
    model_version: str | None = None,
    threshold: float | None = None,
    flag: str | None = None,
    time_utc: str | None = None,
    in_distribution: bool | None = None,
    ood_reasons: list | None = None,
    chain_note: str = "",
    pma_weeks: float | None = None,
    measurement: dict | None = None,
    finding: dict | None = None,
) -> dict:
    """One decision as a dict ready for :func:`append_entry` (validated, JSON-safe).

    Parameters
    ----------
    decision : str
        One of :data:`DECISIONS`: ``"impression"`` records the reader's own read (before or
        without the AI result); ``"accept"`` / ``"reject"`` the AI result; ``"override"`` replaces
        the AI's call with ``override_call``.
    reader : str
        Reader's name (from the app's settings); must not be empty.
    input_sha256 : str or None
        SHA-256 of the scan file's bytes (None for an in-memory scan).
    model_name, weights_sha256, model_version : str or None
        Which model produced the result (None when there is none yet).
    probability : float or None
        P(injury) of the result (None when there is none).
    impression : str or None
        The reader's impression (:data:`IMPRESSIONS`) when one was recorded.
    reason : str
        Optional free text.
    override_call : str or None
        ``"normal"`` or ``"injury"``; required for ``"override"``.
    ai_shown : bool
        Whether the AI result was visible to the reader when deciding (reader-first mode hides it
        until an impression is recorded).
    threshold : float, optional
        Decision threshold of the model card; ``flag`` which side of it the result was.
    time_utc : str, optional
        Default: now (:func:`utc_now`).
    in_distribution, ood_reasons : bool and list of str, optional
        The out-of-distribution verdict of the result (:mod:`model.ood_gate`); None when there is none.
    chain_note : str
        Set when the log failed verification and the reader chose to record anyway: what was wrong
        (stored as ``chain_note``; absent otherwise).
    pma_weeks : float, optional
        Post-menstrual age at scan in weeks, as entered by the reader (stored when given).
    measurement : dict, optional
        For ``decision="measurement"``: ``{"measure": key of MEASURES, "length_mm": float, "plane": str,
        "from_ijk": [i, j, k], "to_ijk": [i, j, k]}`` (voxel indices on the RAS+ grid, may be fractional),
        and ``"side"`` (``"left"`` or ``"right"``, the patient's) for a measure taken on one side.

    finding : dict, optional
        For ``decision="finding"`` (issue 29): the reader agreed or not with one located finding of
        the segmentation: ``{"agreed": bool, "kind": str, "key": str, "summary": str, "location_ras_mm":
        [x, y, z], "source": "model" or the label map's path, ...}`` (JSON-safe values, kept as given).

    Raises
    ------
    ValueError
        Unknown decision or impression, empty reader, override without a call, measurement without
        its fields, finding without ``agreed`` and ``kind``.
    """
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, got {decision!r}")
    if impression is not None and impression not in IMPRESSIONS:
        raise ValueError(f"impression must be one of {IMPRESSIONS}, got {impression!r}")
    if decision == "impression" and impression is None:
        raise ValueError("an impression entry needs the impression")
    if decision == "override" and override_call not in OVERRIDE_CALLS:
        raise ValueError(f"an override needs the reader's call 'normal' or 'injury', got {override_call!r}")
    if decision != "override" and override_call is not None:
        raise ValueError("override_call is only for decision='override'")
    if decision in AI_DECISIONS and probability is None:
        raise ValueError(f"{decision!r} needs an AI result (probability)")
    if not str(reader).strip():
        raise ValueError("the reader's name is empty")
    if (decision == "measurement") != (measurement is not None):
        raise ValueError("a measurement entry needs its measurement, and only it")
    extra = {}
    if measurement is not None:
        extra["measurement"] = _measurement_field(measurement)
    if (decision == "finding") != (finding is not None):
        raise ValueError("a finding entry needs its finding, and only it")
    if finding is not None:
        if not isinstance(finding.get("agreed"), bool) or not finding.get("kind"):
            raise ValueError(f"a finding needs 'agreed' (true or false) and its 'kind', got {finding!r}")
        extra["finding"] = json.loads(json.dumps(finding))  # a JSON-safe copy
    if pma_weeks is not None:
        extra["pma_weeks"] = round(float(pma_weeks), 1)
    if str(chain_note or "").strip():
        extra["chain_note"] = str(chain_note).strip()
    return {
        "format": ENTRY_FORMAT,
        "time_utc": time_utc or utc_now(),
        "reader": str(reader).strip(),
        "input_sha256": input_sha256,
        "model_name": model_name,
        "model_version": model_version,
        "weights_sha256": weights_sha256,
        "probability": None if probability is None else round(float(probability), 6),
        "threshold": None if threshold is None else float(threshold),
        "flag": flag,
        "ai_shown": bool(ai_shown),
        "impression": impression,
        "decision": decision,
        "override_call": override_call,
        "reason": str(reason or "").strip(),
        "in_distribution": None if in_distribution is None else bool(in_distribution),
        "ood_reasons": [str(r) for r in (ood_reasons or [])],
        **extra,
    }


def _measurement_field(measurement: dict) -> dict:
    """The ``measurement`` field of an entry, validated and rounded (see :func:`decision_record`)."""
    if measurement.get("measure") not in MEASURES:
        raise ValueError(f"measure must be one of {tuple(MEASURES)}, got {measurement.get('measure')!r}")
    length = float(measurement.get("length_mm", float("nan")))
    if not length >= 0:
        raise ValueError(f"length_mm must be a non-negative number, got {measurement.get('length_mm')!r}")
    out = {
        "measure": measurement["measure"],
        "length_mm": round(length, 3),
        "plane": str(measurement.get("plane", "")),
        "from_ijk": [round(float(v), 2) for v in measurement.get("from_ijk", ())],
        "to_ijk": [round(float(v), 2) for v in measurement.get("to_ijk", ())],
    }
    side = measurement.get("side")
    if side is not None:
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        out["side"] = side
    return out
