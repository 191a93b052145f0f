"""The reading's record on the PDF report, without Qt: every audit entry for this scan (with its
hash), the chain head, the site's public key, the reader's measurements and post-menstrual age.

:class:`ReadingRecord` is gathered by the window (:mod:`viewer.panels.decision_history`, the ruler, the PMA
field) and turned into report sections by :func:`record_sections`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.record.audit import UNSIGNED_CAVEAT
from model.vocabulary import MEASURES, Flag

#: Post-menstrual ages (weeks) the method was designed for; outside them the reader is warned.
PMA_RANGE_WEEKS = (28.0, 44.0)


def pma_warning(pma_weeks: float | None) -> str:
    """'' inside :data:`PMA_RANGE_WEEKS` (or when not entered), else one sentence."""
    if pma_weeks is None:
        return ""
    lo, hi = PMA_RANGE_WEEKS
    if lo <= float(pma_weeks) <= hi:
        return ""
    return (
        f"PMA {float(pma_weeks):.1f} weeks is outside {lo:g}-{hi:g} weeks, the range the method was designed "
        "for; the result may not apply"
    )


def pma_text(pma_weeks: float | None) -> str:
    if pma_weeks is None:
        return "(not entered)"
    warning = pma_warning(pma_weeks)
    return f"{float(pma_weeks):.1f} weeks" + (f" — WARNING: {warning}" if warning else "")


def ai_call(result) -> str | None:
    """The AI's call as an impression word: "injury" above the threshold, "normal" below, None when
    indeterminate or out of distribution (``result.flag``, :func:`model.vocabulary.flag_for`)."""
    flag = getattr(result, "flag", "")
    return {Flag.ABOVE: "injury", Flag.BELOW: "normal"}.get(flag)


def contradicts(impression: str | None, result) -> bool:
    """True when accepting ``result`` would go against the reader's recorded impression."""
    call = ai_call(result)
    return impression in ("normal", "injury") and call is not None and call != impression


def measurement_text(m: dict) -> str:
    """A kept measurement as the screen shows it: ``"Atrial width of the lateral ventricle, left: 7.0 mm"``
    (the length to 0.1 mm, as the ruler; the side when one was recorded)."""
    name = MEASURES.get(m.get("measure"), m.get("measure"))
    side = f", {m['side']}" if m.get("side") else ""
    try:
        length = f"{float(m.get('length_mm')):.1f} mm"
    except (TypeError, ValueError):
        length = "? mm"
    return f"{name}{side}: {length}"


def entry_summary(entry: dict) -> str:
    """One line for an audit entry: what was decided, on what, why."""
    what = entry.get("decision", "")
    if what == "override":
        what += f" (reader's call: {entry.get('override_call')})"
    if what == "measurement":
        m = entry.get("measurement") or {}
        what += f": {measurement_text(m)} ({m.get('plane')})"
    parts = [f"{entry.get('reader', '')}: {what}", f"impression {entry.get('impression') or '—'}"]
    if entry.get("probability") is not None:
        parts.append(
            f"AI {100 * float(entry['probability']):.1f} %" + ("" if entry.get("ai_shown") else " (not shown)")
        )
    if entry.get("reason"):
        parts.append(f"reason: {entry['reason']}")
    if entry.get("chain_note"):
        parts.append(f"NOTE: {entry['chain_note']}")
    return "; ".join(parts)


@dataclass
class ReadingRecord:
    """What the record says about this reading (for the report).

    Attributes
    ----------
    history : list of dict
        Every audit entry for this scan, oldest first.
    chain_head : str or None
        ``hash`` of the log's last entry (None: empty or failed verification).
    public_key : str
        The site's Ed25519 public key ('' when entries are not signed).
    pma_weeks : float or None
        Post-menstrual age at scan, entered by the reader.
    measurements : list of dict
        ``measurement`` fields of the kept ruler measurements.
    signatures : str
        What the signatures show, as verified now (:meth:`model.record.audit.ChainReport.signatures_text`:
        which lines predate the site key and are unsigned, which are signed); '' = not verified.
    """

    history: list = field(default_factory=list)
    chain_head: str | None = None
    public_key: str = ""
    pma_weeks: float | None = None
    measurements: list = field(default_factory=list)
    signatures: str = ""


def record_sections(record: ReadingRecord) -> list:
    """Report sections ``(title, [(label, value), ...])`` for ``record``."""
    sections = []
    if record.measurements:
        sections.append(
            (
                "Measurements",
                [
                    (
                        MEASURES.get(m["measure"], m["measure"]),
                        f"{m['length_mm']:.1f} mm{', ' + m['side'] if m.get('side') else ''} "
                        f"({m.get('plane', '')} plane, voxels "
                        f"{m.get('from_ijk')} to {m.get('to_ijk')})",
                    )
                    for m in record.measurements
                ],
            )
        )
    history = [
        (f"#{e.get('seq')} {e.get('time_utc', '')}", f"{entry_summary(e)}. Hash {e.get('hash', '')}")
        for e in record.history
    ]
    sections.append(("Decision history (every audit entry for this scan)", history or [("", "(no entries)")]))
    audit = [("Chain head", record.chain_head or "(empty log, or the log failed verification)")]
    if record.public_key:
        audit.append(("Site public key", f"{record.public_key} (Ed25519)"))
        audit.append(("Signatures", record.signatures or "not verified"))
    else:
        audit.append(("Signatures", f"none. {UNSIGNED_CAVEAT}"))
    sections.append(("Audit record", audit))
    return sections
