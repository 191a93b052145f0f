"""What the scan's own metadata says about how it was acquired, and whether that is T2-weighted.

The one place the rule "is this acquisition T2-weighted?" lives. The DICOM series picker uses it to
suggest a series (:func:`model.dicom.find_series`), and the out-of-distribution gate uses it to flag
a scan whose metadata says it is *not* T2-weighted (:func:`model.ood_gate.rule_reasons`). The gate needs
this because image statistics cannot tell a neonatal T1 from a T2 without segmenting it: a T1 rendered
from the Serag tissue labels with random T1 contrasts passes the gate's contrast rules in most draws
(measured in ``resources/README.md``, "Known limits"). A T1 acquired in the same session as the T2
is the likeliest wrong file a reader opens, and its metadata usually says so.

Sources, in the order they are read:

* DICOM: Series Description (0008,103E), Protocol Name (0018,1030), Sequence Name (0018,0024), Echo
  Time (0018,0081), Repetition Time (0018,0080), Inversion Time (0018,0082), all in ms;
* NIfTI: a JSON sidecar next to the file (same name, ``.json``: BIDS / dcm2niix, ``EchoTime``,
  ``RepetitionTime``, ``InversionTime`` in **seconds**, ``SeriesDescription``, ``ProtocolName``,
  ``SequenceName``), the BIDS suffix of the file name (``sub-01_T1w.nii.gz``: BIDS 1.9, "Anatomy
  imaging data"), and the header's ``descrip`` as dcm2niix writes it (``TE=3.2;Time=...``, ms).

Nothing is written, and an unreadable sidecar is ignored (the scan is still analysed; the image
rules still apply).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

#: T2-weighted, by the echo and repetition times of a spin-echo acquisition (ms). Clinical neonatal T2
#: (turbo/fast spin echo) uses TE 100-250 ms, TR 3000-15000 ms (dHCP: TE 156 ms, TR 12000 ms).
T2_MIN_TE_MS = 60.0
T2_MIN_TR_MS = 1500.0
#: Echo time (ms) below which an acquisition is not T2-weighted: T1 spin echo (TE 8-20 ms), gradient
#: echo and MPRAGE (TE 2-6 ms), proton density (TE 10-30 ms).
NOT_T2_MAX_TE_MS = 30.0
#: Inversion time (ms) from which an inversion-recovery acquisition is FLAIR-like (CSF nulled, dark).
FLAIR_MIN_TI_MS = 1000.0
#: The largest sidecar read (bytes); a real dcm2niix/BIDS sidecar is a few kB.
MAX_SIDECAR_BYTES = 1_000_000

#: Whole tokens only (``HEADCOIL`` is not ``ADC``); ``_`` and digits separate tokens (``AX_DWI1000``).
_NOT_T2_TEXT = re.compile(r"(?<![A-Z])(?:FLAIR|SWI|DWI|DTI|ADC)(?![A-Z])|T2\s*\*|T2STAR|T2S\b")
_T2_TEXT = re.compile(r"T2(?!\d)")
_T1_TEXT = re.compile(r"T1(?!\d)|MPRAGE|MP-RAGE|MP2RAGE|SPGR|\bPD\b|PDW")
#: BIDS anatomical suffixes (BIDS 1.9, "Anatomy imaging data") that name a weighting.
_BIDS_SUFFIX = re.compile(r"_(T1w|T2w|PDw|T2starw|FLAIR|PDT2|inplaneT1|inplaneT2|angio|UNIT1|T1map|T2map)$")
_DESCRIP_TE = re.compile(r"(?:^|;)\s*TE=([0-9.]+)")


@dataclass(frozen=True)
class Acquisition:
    """Acquisition facts from a scan's metadata; ``None`` where the metadata is silent.

    Attributes
    ----------
    echo_time_ms, repetition_time_ms, inversion_time_ms : float or None
        TE, TR, TI in milliseconds.
    text : str
        Descriptions joined by `` | `` (series description, protocol, sequence, BIDS suffix).
    source : str
        Where it was read, for messages: ``DICOM header``, ``JSON sidecar <name>``,
        ``file name``, ``NIfTI header``, joined by ``, ``.
    """

    echo_time_ms: float | None = None
    repetition_time_ms: float | None = None
    inversion_time_ms: float | None = None
    text: str = ""
    source: str = ""

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def t2_weighting(acq: Acquisition | None) -> tuple[bool | None, str]:
    """Is the acquisition T2-weighted? ``(True | False | None, why)``; ``None`` when nothing says.

    The description is read first (an explicit FLAIR / T2* / diffusion, then T2, then T1 / MPRAGE /
    SPGR / PD), then the times: TE >= 60 ms and TR >= 1500 ms without an inversion pulse is T2;
    TE < 30 ms is not; TE >= 60 ms with TI >= 1000 ms is FLAIR-like (not T2); a shorter inversion
    (STIR) or TE of 30-60 ms says nothing either way.

    Parameters
    ----------
    acq : Acquisition or None

    Returns
    -------
    (bool or None, str)
        The verdict and a short phrase for messages (empty when ``None``).
    """
    if acq is None:
        return None, ""
    text = acq.text.upper()
    hit = _NOT_T2_TEXT.search(text)
    if hit:
        return False, f"its description names {hit.group(0).strip()} ({acq.text})"
    if _T2_TEXT.search(text):
        return True, f"its description names T2 ({acq.text})"
    hit = _T1_TEXT.search(text)
    if hit:
        return False, f"its description names {hit.group(0)} ({acq.text})"
    te, tr, ti = acq.echo_time_ms, acq.repetition_time_ms, acq.inversion_time_ms
    if te is None:
        return None, ""
    if te < NOT_T2_MAX_TE_MS:
        return False, f"echo time {te:g} ms (T2-weighted imaging uses {T2_MIN_TE_MS:g} ms or more)"
    if te >= T2_MIN_TE_MS and ti:
        if ti >= FLAIR_MIN_TI_MS:
            return False, f"inversion time {ti:g} ms with echo time {te:g} ms (FLAIR: CSF is dark)"
        return None, ""
    if te >= T2_MIN_TE_MS and tr is not None and tr >= T2_MIN_TR_MS:
        return True, f"echo time {te:g} ms, repetition time {tr:g} ms"
    return None, ""


def _number(value) -> float | None:
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out and out >= 0 else None  # not NaN, not negative


def from_dicom(ds) -> Acquisition:
    """:class:`Acquisition` of a pydicom dataset (times in ms as DICOM stores them; 0 or absent = None)."""
    texts = [str(ds.get(k) or "").strip() for k in ("SeriesDescription", "ProtocolName", "SequenceName")]
    te, tr, ti = (_number(ds.get(k)) for k in ("EchoTime", "RepetitionTime", "InversionTime"))
    return Acquisition(
        echo_time_ms=te or None,
        repetition_time_ms=tr or None,
        inversion_time_ms=ti or None,
        text=" | ".join(t for t in texts if t),
        source="DICOM header",
    )


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".nii.gz", ".nii"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return path.stem


def from_nifti(path: str | Path | None, descrip: bytes | str = b"") -> Acquisition | None:
    """:class:`Acquisition` of a NIfTI file from its sidecar, BIDS suffix and ``descrip``; None if silent.

    Parameters
    ----------
    path : str or Path or None
        The NIfTI file (``.nii`` / ``.nii.gz``); its sidecar is ``<name>.json`` in the same folder.
    descrip : bytes or str
        The header's ``descrip`` field.

    Returns
    -------
    Acquisition or None
        Sidecar times are converted from seconds (BIDS) to ms; a sidecar that is missing, too large
        or not a JSON object is ignored.
    """
    te = tr = ti = None
    texts, sources = [], []
    if path is not None:
        path = Path(path)
        sidecar = path.with_name(_stem(path) + ".json")
        meta = None
        try:
            if sidecar.is_file() and sidecar.stat().st_size <= MAX_SIDECAR_BYTES:
                meta = json.loads(sidecar.read_text(encoding="utf-8", errors="replace"))
        except (OSError, ValueError):
            meta = None
        if isinstance(meta, dict):
            seconds = [_number(meta.get(k)) for k in ("EchoTime", "RepetitionTime", "InversionTime")]
            te, tr, ti = (None if v is None else round(v * 1000.0, 6) for v in seconds)
            texts += [
                str(meta.get(k)).strip()
                for k in ("SeriesDescription", "ProtocolName", "SequenceName")
                if isinstance(meta.get(k), str) and meta.get(k).strip()
            ]
            sources.append(f"JSON sidecar {sidecar.name}")
        hit = _BIDS_SUFFIX.search(_stem(path))
        if hit:
            texts.append(hit.group(1))
            sources.append("file name")
    if isinstance(descrip, bytes):
        descrip = descrip.split(b"\x00")[0].decode("latin-1", errors="replace")
    hit = _DESCRIP_TE.search(str(descrip))
    if te is None and hit:
        te = _number(hit.group(1))
        if te is not None:
            sources.append("NIfTI header")
    if not sources:
        return None
    return Acquisition(
        echo_time_ms=te or None,
        repetition_time_ms=tr or None,
        inversion_time_ms=ti or None,
        text=" | ".join(texts),
        source=", ".join(sources),
    )
