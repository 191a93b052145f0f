"""Findings, and :func:`report_from_labels`: measurements, references and findings of one label map.

Part of :mod:`model.measure` (the package docstring says what each part holds). The measurements'
keys for which an age reference may exist (:data:`REFERENCED_KEYS`, :data:`UNITS`) are defined here
too, from the volumes and the linear measures.

Findings
--------
* ventricular dilatation: any ventricular measure (volume, fraction of ICV, index, horn width,
  thalamo-occipital distance) with z > 2 (above the 97.7th centile) against its reference;
* white-matter volume reduction: ``white_matter_ml`` with z < -2;
* enlarged extra-cerebral space: ``csf_ml`` with z > 2;
* cystic lesion / punctate white-matter lesion: each kept component.

The |z| > 2 limit is the conventional two standard deviations of the references used here; |z| >
3.1 is flagged "extreme" (Dimitrova et al., Cereb Cortex 2021). A z-score needs the post-menstrual
age *and* a reference with a spread: without the age, measures are given as values only ("PMA
unknown") and only lesions give findings; a reference without a published spread gives the
expected value but no z-score.

Ventricles and extra-cerebral CSF have no published spread we can cite, so for them a *declared
rule of this software* (not a published cut-off, and said so on every finding it makes) stands in
where no z-score exists: ventricular dilatation when the ventricles' fraction of the intracranial
volume is at least :data:`RATIO_RULE` times the expected fraction at the PMA (the reference's
mean), and an enlarged extra-cerebral space when the extra-cerebral CSF's fraction is. Fractions of
the intracranial volume do not depend on head size. The rule's operating point is measured on the
real-anatomy evaluation set (``resources/README.md``), where the normal templates are called
normal at their own age by construction of the bundled table (its means are those templates), so
the specificity it reports there is optimistic; a site's own fit (``python -m model.norms fit``)
gives spreads and z-scores instead.
"""

from __future__ import annotations

import math

import numpy as np

from model import findings_types as ft
from model.measure.lesions import MIN_LESION_MM3, lesion_components
from model.measure.linear import LINEAR, linear_measures
from model.measure.volumes import (
    _CONVENTION,
    _VOLUME_DEFINITION,
    VOLUMES,
    _centroid_voxel,
    _mask,
    _ras,
    check_labels,
    volumes_ml,
)
from model.norms_table import Z_LIMIT, NormTable  # Z_LIMIT: the |z| of the references' high/low flags
from model.segmentation import (
    CSF,
    CYST,
    INTRACRANIAL_VALUES,
    N_SEG_CLASSES,
    PUNCTATE,
    VENTRICLES,
    WHITE_MATTER,
)

#: Declared rule where no spread exists (see the module notes): a fraction of the intracranial
#: volume at least this many times its expected value at the PMA.
RATIO_RULE = 1.5
#: A lesion centroid within this distance (mm) of the midline is called "midline".
_SIDE_MM = 3.0

#: Keys whose deviation above the reference means ventricular dilatation.
VENTRICLE_KEYS = ("ventricles_ml", "ventricles_fraction_icv") + tuple(
    f"{stem}_{side}_mm" for stem in LINEAR for side in ("left", "right")
)
#: Every key that an age reference may exist for (volumes and linear measures).
REFERENCED_KEYS = tuple(VOLUMES) + ("ventricles_fraction_icv",) + VENTRICLE_KEYS[2:]
#: Units of the referenced keys.
UNITS = {**{k: "ml" for k in VOLUMES}, "ventricles_fraction_icv": "1", **{k: "mm" for k in VENTRICLE_KEYS[2:]}}


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------


def _confidence(z: float) -> float:
    """1 - 2 (1 - Phi(|z|)): how far beyond the reference limit (see :class:`model.findings_types.Finding`)."""
    return float(math.erf(abs(z) / math.sqrt(2.0)))


def _side(x_mm: float, midline_mm: float | None) -> str:
    d = x_mm - (midline_mm if midline_mm is not None else 0.0)
    return "midline" if abs(d) < _SIDE_MM else ("right" if d > 0 else "left")  # RAS+: +x is the patient's right


def _measure_finding(  # noqa: PLR0913 - one finding's fields
    kind: str, m: ft.Measurement, evidence: list, where: np.ndarray | None, affine: np.ndarray, label: int
) -> ft.Finding:
    """A finding from a measure outside its reference, located at the centre of the structure measured."""
    voxel = where if where is not None else np.zeros(3)
    z = m.z if m.z is not None else 0.0  # always set: findings come from measures with a z-score
    return ft.Finding(
        kind=kind,
        summary=f"{kind}: {m.name} {m.value:.3g} {m.unit}, z {z:+.1f}",
        evidence=evidence,
        value=m.value,
        unit=m.unit,
        reference=m.reference,
        location_ras_mm=_ras(affine, voxel),
        location_voxel=tuple(float(c) for c in voxel),
        confidence=_confidence(z),
        label=label,
    )


def _volume_findings(report: ft.SegmentationReport, labels: np.ndarray, affine: np.ndarray) -> list[ft.Finding]:
    by_key = {m.key: m for m in report.measurements}
    out = []
    high = [by_key[k] for k in VENTRICLE_KEYS if k in by_key and by_key[k].z is not None and by_key[k].z > Z_LIMIT]
    if high:
        top = max(high, key=lambda m: m.z)
        out.append(
            _measure_finding(
                ft.VENTRICULAR_DILATATION,
                top,
                [m.key for m in high],
                _centroid_voxel(labels == VENTRICLES),
                affine,
                VENTRICLES,
            )
        )
    if not high:
        rule = _ratio_finding(
            ft.VENTRICULAR_DILATATION, by_key, "ventricles_ml", labels == VENTRICLES, affine, VENTRICLES
        )
        out += [rule] if rule is not None else []
    wm = by_key.get("white_matter_ml")
    if wm is not None and wm.z is not None and wm.z < -Z_LIMIT:
        where = _centroid_voxel(_mask(labels, VOLUMES["white_matter_ml"][1]))
        out.append(_measure_finding(ft.WM_VOLUME_REDUCTION, wm, [wm.key], where, affine, WHITE_MATTER))
    csf = by_key.get("csf_ml")
    if csf is not None and csf.z is not None and csf.z > Z_LIMIT:
        where = _centroid_voxel(labels == CSF)
        out.append(_measure_finding(ft.ENLARGED_EXTRACEREBRAL_SPACE, csf, [csf.key], where, affine, CSF))
    elif csf is not None and csf.z is None:
        rule = _ratio_finding(ft.ENLARGED_EXTRACEREBRAL_SPACE, by_key, "csf_ml", labels == CSF, affine, CSF)
        out += [rule] if rule is not None else []
    return out


def _ratio_finding(kind: str, by_key: dict, key: str, where: np.ndarray, affine: np.ndarray, label: int):
    """The declared :data:`RATIO_RULE` on a volume's fraction of the intracranial volume (module notes).

    Returns a Finding, or None when the rule is not met or no expected value exists at the PMA.
    """
    m, icv = by_key.get(key), by_key.get("icv_ml")
    if m is None or icv is None or m.reference is None or icv.reference is None or icv.value <= 0:
        return None
    if icv.reference.mean <= 0 or m.reference.mean <= 0:
        return None
    ratio = (m.value / icv.value) / (m.reference.mean / icv.reference.mean)
    if ratio < RATIO_RULE:
        return None
    voxel = _centroid_voxel(where)
    return ft.Finding(
        kind=kind,
        summary=(
            f"{kind}: {m.name} {ratio:.1f}x the expected fraction of the intracranial volume at "
            f"{m.reference.pma_weeks:g} weeks (rule of this software: at least {RATIO_RULE:g}x; no published spread)"
        ),
        evidence=[key, "icv_ml"],
        value=m.value,
        unit=m.unit,
        reference=m.reference,
        location_ras_mm=_ras(affine, voxel if voxel is not None else np.zeros(3)),
        location_voxel=tuple(float(c) for c in (voxel if voxel is not None else np.zeros(3))),
        confidence=float(min(1.0, 0.5 + 0.5 * (ratio - RATIO_RULE) / RATIO_RULE)),
        label=label,
    )


def _lesion_findings(lesions, confidences, midline_mm) -> list[ft.Finding]:
    out = []
    for lesion, conf in zip(lesions, confidences):
        word = "Cyst" if lesion.label == CYST else "Punctate lesion"
        side = _side(lesion.centroid_ras_mm[0], midline_mm)
        out.append(
            ft.Finding(
                kind=lesion.kind,
                summary=f"{word} {lesion.index}: {lesion.diameter_mm:.1f} mm, {lesion.volume_mm3:.0f} mm3, {side}",
                evidence=[f"lesion:{lesion.label}:{lesion.index}"],
                value=lesion.volume_mm3,
                unit="mm3",
                location_ras_mm=lesion.centroid_ras_mm,
                location_voxel=lesion.centroid_voxel,
                confidence=conf,
                label=lesion.label,
                component=lesion.index,
            )
        )
    return out


def _measurements(vols: dict, linear: dict, lesions: list) -> list[ft.Measurement]:
    out = []
    for key, (name, _) in VOLUMES.items():
        out.append(ft.Measurement(key, name, vols[key], "ml", f"{_VOLUME_DEFINITION[key]}; {_CONVENTION}"))
    out.append(
        ft.Measurement(
            "ventricles_fraction_icv",
            "Ventricles / intracranial volume",
            vols["ventricles_fraction_icv"],
            "1",
            "ventricles_ml / icv_ml",
        )
    )
    for stem, (name, definition) in LINEAR.items():
        for side in ("left", "right"):
            key = f"{stem}_{side}_mm"
            if key in linear:
                out.append(ft.Measurement(key, f"{name}, {side}", linear[key], "mm", definition))
    for value, stem, word in ((CYST, "cyst", "Cysts"), (PUNCTATE, "punctate", "Punctate lesions")):
        mine = [lesion for lesion in lesions if lesion.label == value]
        rule = f"26-connected components of label {value} of at least {MIN_LESION_MM3[value]:g} mm3"
        out.append(ft.Measurement(f"{stem}_count", f"{word}, number", float(len(mine)), "1", rule))
        total = float(sum(lesion.volume_mm3 for lesion in mine))
        out.append(ft.Measurement(f"{stem}_total_mm3", f"{word}, total volume", total, "mm3", rule))
    return out


def report_from_labels(
    labels: np.ndarray,
    affine: np.ndarray,
    pma_weeks: float | None = None,
    pma_source: str = "",
    probabilities: np.ndarray | None = None,
    norms=None,
    source: str = "model",
    confidence: np.ndarray | None = None,
) -> ft.SegmentationReport:
    """Measurements, lesions and findings of one label map.

    Parameters
    ----------
    labels : np.ndarray, shape (X, Y, Z), integer label values of :mod:`model.segmentation`
        (uint8; whole-number floats as a NIfTI may store them are accepted).
    affine : np.ndarray, shape (4, 4)
        Voxel -> RAS+ mm of the label map (the input scan's own affine).
    pma_weeks : float or None
        Post-menstrual age at scan (weeks); None = unknown (values only, no references, no
        volume findings).
    pma_source : str
        Where the age came from (``"reader"``, ``"sessions.tsv"``, ...), recorded in the report.
    probabilities : np.ndarray, shape (N_SEG_CLASSES, X, Y, Z), float, optional
        The decoder's class probabilities on the same grid, for lesion confidences.
    norms : model.norms_table.NormTable or None
        The age references; None = the bundled table (:meth:`model.norms_table.NormTable.load`).
    source : str
        ``"model"`` or the label-map file it was read from.
    confidence : np.ndarray, shape (X, Y, Z), float, optional
        The probability of each voxel's own label (:func:`model.segmentation.resample_probabilities`),
        for lesion confidences when ``probabilities`` are not given. Neither: confidence 1.0 (a
        label map read from a file).

    Returns
    -------
    SegmentationReport

    Raises
    ------
    ValueError
        A bad label map or affine (:func:`check_labels`), probabilities or confidence of the wrong
        shape, or a PMA that is not a finite positive number.
    """
    labels, affine, counts = check_labels(labels, affine)
    if probabilities is not None:
        probabilities = np.asarray(probabilities)
        if probabilities.shape != (N_SEG_CLASSES, *labels.shape):
            raise ValueError(
                f"probabilities must have shape {(N_SEG_CLASSES, *labels.shape)} (classes, X, Y, Z), "
                f"got {probabilities.shape}"
            )
    if confidence is not None:
        confidence = np.asarray(confidence)
        if confidence.shape != labels.shape:
            raise ValueError(f"confidence must have the label map's shape {labels.shape}, got {confidence.shape}")
    if pma_weeks is not None:
        pma_weeks = float(pma_weeks)
        if not math.isfinite(pma_weeks) or pma_weeks <= 0:
            raise ValueError(f"post-menstrual age must be a positive number of weeks, got {pma_weeks}")
    vols = volumes_ml(labels, affine, counts)
    icv_centre = _centroid_voxel(_mask(labels, INTRACRANIAL_VALUES))
    linear, notes = linear_measures(labels, affine, icv_centre)
    lesions, confidences = lesion_components(labels, affine, probabilities, confidence)
    report = ft.SegmentationReport(
        measurements=_measurements(vols, linear, lesions),
        lesions=lesions,
        pma_weeks=pma_weeks,
        pma_source=pma_source if pma_weeks is not None else "",
        source=source,
        notes=list(notes),
    )
    if pma_weeks is None:
        report.notes.append("PMA unknown: measurements are shown without an age reference; only lesions give findings")
    else:
        if norms is None:
            norms = NormTable.load()
        no_spread = []
        for m in report.measurements:
            reason = norms.apply(m, pma_weeks)
            if reason and m.key in REFERENCED_KEYS:
                report.notes.append(f"{m.name}: {reason}")
            if m.reference is not None and m.reference.sd is None:
                no_spread.append(m.name)
        if no_spread:
            report.notes.append("no published spread (expected value only, no z-score): " + ", ".join(no_spread))
    midline_mm = None if icv_centre is None else _ras(affine, icv_centre)[0]
    if icv_centre is None:  # nothing inside the skull: a failed segmentation, not a small brain
        report.notes.append("no intracranial volume in the label map: no volume findings")
        volume_findings = []
    else:
        volume_findings = _volume_findings(report, labels, affine)
    report.findings = volume_findings + _lesion_findings(lesions, confidences, midline_mm)
    return report
