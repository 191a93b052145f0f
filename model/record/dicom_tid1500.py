"""The measurements and findings to PACS: a TID 1500 Measurement Report (Comprehensive 3D SR).

Written by :func:`model.record.dicom_export.export_dicom` next to the Segmentation of
:mod:`model.record.dicom_seg`, whose segments it references, with highdicom:

* :func:`measurement_report_dataset`: a **Comprehensive 3D SR** with the Measurement Report template
  (TID 1500): per structure (TID 1411, referencing its segment) its volume in ml with the age
  reference at the infant's PMA (mean, SD, z-score, centile, normality; the reference's source as
  authority), the linear ventricular measures in mm; intracranial, total-brain and white-matter
  volumes and the lesion counts (TID 1501); and every finding (TID 1411) with its kind, evidence,
  laterality and location: a lesion as a 3D point at its centroid (patient coordinates, the source's
  frame of reference) with its volume (mm3) and largest diameter (mm), a measure finding referencing
  the segment of the structure measured. Units are UCUM (``mL``, ``mm``, ``mm3``, ``1``,
  ``{lesions}``).

Nothing here imports Qt. Callers check the disclosure rule (:func:`model.disclosure.may_show_result`)
before writing it.
"""

from __future__ import annotations

import numpy as np

from model.record.dicom_common import SCHEME, concept, sct, structured_report, ucum
from model.record.dicom_seg import ABNORMAL_STRUCTURE, LPS, SEGMENT_CODES

TID1500_SERIES_DESCRIPTION = "GloResNet measurements and findings (research use only)"

_UNITS = {
    "ml": ("mL", "milliliter"),
    "mm": ("mm", "millimeter"),
    "mm3": ("mm3", "cubic millimeter"),
    "1": ("1", "no units"),
}
#: Measurement key (stem) -> concept name; SNOMED CT where one exists.
_VOLUME = ("SCT", "118565006", "Volume")
_LINEAR = {
    "ventricular_index": (SCHEME, "VENT-INDEX", "Ventricular index (Levene)"),
    "anterior_horn_width": ("SCT", "103355008", "Width"),
    "thalamo_occipital_distance": (SCHEME, "TOD", "Thalamo-occipital distance"),
}
#: Structures measured by one label: key -> label value.
_SEGMENT_KEYS = {
    "csf_ml": 1,
    "cortex_ml": 2,
    "ventricles_ml": 5,
    "cerebellum_brainstem_ml": 6,
    "deep_grey_ml": 7,
}
#: Measures of several labels: key -> finding site (SCT).
_COMPOSITE_KEYS = {
    "icv_ml": ("128319008", "Intracranial structure"),
    "brain_ml": ("12738006", "Brain"),
    "white_matter_ml": ("68523003", "Cerebral white matter"),
}
#: Finding kind -> (finding type, finding site) codes.
_FINDING_CODES = {
    "ventricular dilatation": (("SCT", "25322007", "Dilatation"), ("SCT", "35764002", "Brain ventricle")),
    "cystic lesion": (("SCT", "367643001", "Cyst"), ("SCT", "68523003", "Cerebral white matter")),
    "punctate white-matter lesion": (
        (SCHEME, "PWML", "Punctate white-matter lesion"),
        ("SCT", "68523003", "Cerebral white matter"),
    ),
    "white-matter volume reduction": (
        ("SCT", "19776001", "Decreased size"),
        ("SCT", "68523003", "Cerebral white matter"),
    ),
    "enlarged extra-cerebral space": (("SCT", "15454001", "Increased size"), ("SCT", "35951006", "Subarachnoid space")),
}
_LATERALITY = {"left": ("SCT", "7771000", "Left"), "right": ("SCT", "24028007", "Right")}


def _unit(unit: str):
    value, meaning = _UNITS.get(unit, (unit, unit))
    return ucum(value, meaning)


def _properties(m, pma_weeks):
    """TID 300 measurement properties: normality against the age reference and its statistics."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    if m.reference is None:
        return None
    ref = m.reference
    values = [hd.sr.NumContentItem(codes.SCT.Mean, float(ref.mean), _unit(m.unit), relationship_type="HAS PROPERTIES")]
    if ref.sd is not None:
        values.append(
            hd.sr.NumContentItem(
                codes.SCT.StandardDeviation, float(ref.sd), _unit(m.unit), relationship_type="HAS PROPERTIES"
            )
        )
    if m.z is not None:
        values.append(
            hd.sr.NumContentItem(
                codes.DCM.ZScoreOfMeasurement, float(m.z), _unit("1"), relationship_type="HAS PROPERTIES"
            )
        )
    if m.centile is not None:
        values.append(
            hd.sr.NumContentItem(
                codes.DCM.PercentileRankingOfMeasurement,
                float(m.centile),
                ucum("%", "percent"),
                relationship_type="HAS PROPERTIES",
            )
        )
    spread = "" if ref.sd is not None else "; no published spread (expected value only)"
    statistics = hd.sr.MeasurementStatisticalProperties(
        values=values,
        description=f"Age reference at PMA {float(pma_weeks if pma_weeks is not None else ref.pma_weeks):.1f} weeks{spread}",
        authority=str(ref.source)[:1024],
    )
    normality = None
    if m.z is not None:
        normality = {"": codes.SCT.Normal}.get(m.flag)
        if normality is None:
            normality = codes.SCT.AbnormallyHigh if m.z > 0 else codes.SCT.AbnormallyLow
    return hd.sr.MeasurementProperties(normality=normality, measurement_statistical_properties=statistics)


def _measurement(m, pma_weeks, name=None, finding_sites=None):
    import highdicom as hd

    return hd.sr.Measurement(
        name=concept(name or _VOLUME),
        value=float(m.value),
        unit=_unit(m.unit),
        finding_sites=finding_sites,
        properties=_properties(m, pma_weeks),
    )


def _linear_measurement(m, pma_weeks):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    stem, side = m.key.rsplit("_", 2)[0], m.key.rsplit("_", 2)[1]
    site = codes.SCT.AnteriorHornLateralVentricle if stem == "anterior_horn_width" else codes.SCT.BrainVentricle
    sites = [hd.sr.FindingSite(site, laterality=concept(_LATERALITY[side]))] if side in _LATERALITY else None
    return _measurement(m, pma_weeks, name=_LINEAR[stem], finding_sites=sites)


def _tracking(identifier: str):
    import highdicom as hd

    return hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=identifier[:64])


def _side_of(finding) -> str | None:
    text = f"{finding.summary}".lower()
    for side in ("left", "right"):
        if text.rstrip().endswith(side) or f", {side}" in text:
            return side
    return None


def measurement_report_dataset(  # noqa: C901, PLR0913 - one report, its groups in order
    sources,
    seg,
    numbers: dict,
    volume,
    result,
    *,
    series_number: int,
    manufacturer: str,
):
    """A Comprehensive 3D SR with the TID 1500 Measurement Report of ``result.report`` (see the module docstring)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    report = result.report
    pma = report.pma_weeks
    series_uid = str(sources[0].SeriesInstanceUID)
    frame_of_reference = str(sources[0].FrameOfReferenceUID)
    source_series = hd.sr.SourceSeriesForSegmentation(series_uid)
    by_key = {m.key: m for m in report.measurements}
    algorithm = hd.sr.AlgorithmIdentification(name=f"{result.model_name}"[:64], version=str(result.model_version)[:64])

    def segment_ref(value: int):
        return hd.sr.ReferencedSegment(
            sop_class_uid=seg.SOPClassUID,
            sop_instance_uid=seg.SOPInstanceUID,
            segment_number=numbers[value],
            source_series=source_series,
        )

    groups = []
    # structures measured by their own segment (TID 1411)
    for key, value in _SEGMENT_KEYS.items():
        m = by_key.get(key)
        if m is None or value not in numbers:
            continue
        measurements = [_measurement(m, pma)]
        if value == 5:  # the ventricles carry the linear measures and their fraction of the ICV
            measurements += [
                _linear_measurement(x, pma)
                for x in report.measurements
                if x.key.split("_")[-1] == "mm" and x.key.rsplit("_", 2)[0] in _LINEAR
            ]
            fraction = by_key.get("ventricles_fraction_icv")
            if fraction is not None:
                measurements.append(
                    _measurement(fraction, pma, name=(SCHEME, "FRACTION-OF-ICV", "Fraction of intracranial volume"))
                )
        (_, kind) = SEGMENT_CODES[value]
        groups.append(
            hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=_tracking(m.name),
                referenced_segment=segment_ref(value),
                finding_type=concept(kind),
                algorithm_id=algorithm,
                measurements=measurements,
            )
        )
    # measures of several labels (TID 1501), with their finding sites
    composite = [
        _measurement(by_key[k], pma, finding_sites=[hd.sr.FindingSite(sct(*site))])
        for k, site in _COMPOSITE_KEYS.items()
        if k in by_key
    ]
    if composite:
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=_tracking("Intracranial, brain and white-matter volumes"),
                algorithm_id=algorithm,
                measurements=composite,
            )
        )
    # lesion counts and total volumes (TID 1501)
    for stem, kind in (
        ("cyst", ("SCT", "367643001", "Cyst")),
        ("punctate", _FINDING_CODES["punctate white-matter lesion"][0]),
    ):
        count, total = by_key.get(f"{stem}_count"), by_key.get(f"{stem}_total_mm3")
        if count is None:
            continue
        items = [
            hd.sr.Measurement(
                name=codes.SCT.NumberOfLesions, value=float(count.value), unit=ucum("{lesions}", "lesions")
            )
        ]
        if total is not None:
            items.append(_measurement(total, pma))
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=_tracking(f"{kind[2]}: number and total volume"),
                finding_type=concept(kind),
                algorithm_id=algorithm,
                measurements=items,
            )
        )
    # findings (TID 1411): what, where, how large
    lesions = {(lesion.label, lesion.index): lesion for lesion in report.lesions}
    for i, f in enumerate(report.findings, 1):
        kind, site = _FINDING_CODES.get(f.kind, ((SCHEME, "FINDING", f.kind), ("SCT", "12738006", "Brain")))
        side = _side_of(f)
        laterality = concept(_LATERALITY[side]) if side in _LATERALITY else None
        sites = [hd.sr.FindingSite(concept(site), laterality=laterality)]
        tracking = _tracking(f"Finding {i}: {f.kind}")
        lesion = lesions.get((f.label, f.component)) if f.component is not None else None
        if lesion is not None:
            point = np.asarray(lesion.centroid_ras_mm, float) @ LPS.T
            surface = hd.sr.VolumeSurface(
                graphic_type=hd.sr.GraphicTypeValues3D.POINT,
                graphic_data=point[None, :],
                frame_of_reference_uid=frame_of_reference,
                source_series=source_series,
            )
            measurements = [
                hd.sr.Measurement(name=concept(_VOLUME), value=float(lesion.volume_mm3), unit=_unit("mm3")),
                hd.sr.Measurement(name=codes.SCT.Diameter, value=float(lesion.diameter_mm), unit=_unit("mm")),
            ]
            groups.append(
                hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                    tracking_identifier=tracking,
                    referenced_volume_surface=surface,
                    finding_type=concept(kind),
                    finding_category=sct(*ABNORMAL_STRUCTURE),
                    finding_sites=sites,
                    algorithm_id=algorithm,
                    measurements=measurements,
                )
            )
            continue
        evidence = [by_key[k] for k in f.evidence if k in by_key]
        measurements = [
            _linear_measurement(m, pma)
            if m.unit == "mm" and m.key.rsplit("_", 2)[0] in _LINEAR
            else _measurement(m, pma)
            for m in evidence
        ]
        kwargs = {"referenced_segment": segment_ref(int(f.label))} if f.label in numbers else {}
        groups.append(
            hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=tracking,
                finding_type=concept(kind),
                finding_sites=sites,
                algorithm_id=algorithm,
                measurements=measurements or None,
                **kwargs,
            )
            if kwargs
            else hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=tracking,
                finding_type=concept(kind),
                finding_sites=sites,
                algorithm_id=algorithm,
                measurements=measurements or None,
            )
        )
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(),
            name=f"{result.model_name}"[:64],
            manufacturer_name=manufacturer[:64],
            model_name=f"{result.model_name} {result.model_version}"[:64],
        ),
    )
    content = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.LN.BrainMRI,
        imaging_measurements=groups,
    )
    return structured_report(
        hd.sr.Comprehensive3DSR,
        evidence=[*sources, seg],
        content=content[0],
        series_number=series_number,
        manufacturer=manufacturer,
        description=TID1500_SERIES_DESCRIPTION,
    )
