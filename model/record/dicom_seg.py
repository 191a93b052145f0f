"""The segmentation to PACS: a DICOM Segmentation (SEG) of the label map and a TID 1500 Measurement Report.

Written by :func:`model.record.dicom_export.export_dicom` next to its SR and SC, in the source study
(issue 29), with highdicom:

* :func:`segmentation_dataset`: a BINARY **Segmentation** (highdicom ``Segmentation``) whose frames lie
  on the source series' own frames: every source pixel takes the label of the volume voxel at its
  patient position (:func:`labels_on_frames`; the volume is the same lattice reoriented, so this is
  exact). One segment per label present, in the order of :data:`model.segmentation.SEG_CLASSES`,
  coded with SNOMED CT where a code exists (:data:`SEGMENT_CODES`) and the private scheme
  ``99GLRN`` where none does (cerebellum + brainstem and deep grey matter are merged classes, and
  "skull, scalp and non-brain" is no single structure). The Draw-EM label value is the segment's
  tracking ID (``"label 5"``), so :func:`read_seg_labels` gives the label map back.
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
before writing either object.
"""

from __future__ import annotations

import copy

import numpy as np

from model.segmentation import LABEL_NAMES, SEG_CLASSES

#: Private (local) coding scheme of concepts without a standard code (the same as the SR's).
SCHEME = "99GLRN"
SEG_SERIES_DESCRIPTION = "GloResNet segmentation (research use only)"
TID1500_SERIES_DESCRIPTION = "GloResNet measurements and findings (research use only)"
#: Patient and study attributes of type 2 that highdicom copies from the source (empty when absent).
TYPE2_ATTRIBUTES = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)
LPS = np.diag([-1.0, -1.0, 1.0])


def private_scheme_identification():
    """The Coding Scheme Identification Sequence (0008,0110) that names our private scheme ``99GLRN``."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    item = Dataset()
    item.CodingSchemeDesignator = SCHEME
    item.CodingSchemeName = "GloResNet second reader local concepts (no standard code exists)"
    item.CodingSchemeResponsibleOrganization = "GloResNet second reader project"
    return Sequence([item])


def _private(value: str, meaning: str):
    from highdicom.sr import CodedConcept

    return CodedConcept(value=value, scheme_designator=SCHEME, meaning=meaning)


def _sct(value: str, meaning: str):
    from highdicom.sr import CodedConcept

    return CodedConcept(value=value, scheme_designator="SCT", meaning=meaning)


def _ucum(value: str, meaning: str):
    from highdicom.sr import CodedConcept

    return CodedConcept(value=value, scheme_designator="UCUM", meaning=meaning)


#: Segmented property category codes (DICOM CID 7150).
TISSUE = ("85756007", "Tissue")
ANATOMICAL_STRUCTURE = ("91723000", "Anatomical Structure")
BODY_SUBSTANCE = ("91720002", "Body Substance")
ABNORMAL_STRUCTURE = ("49755003", "Morphologically Abnormal Structure")

#: Label value -> (category (SCT), type (scheme, value, meaning)). SNOMED CT where a code exists.
SEGMENT_CODES = {
    1: (BODY_SUBSTANCE, ("SCT", "65216001", "Cerebrospinal fluid")),
    2: (ANATOMICAL_STRUCTURE, ("SCT", "40146001", "Cerebral cortex")),
    3: (ANATOMICAL_STRUCTURE, ("SCT", "68523003", "Cerebral white matter")),
    4: (TISSUE, (SCHEME, "NON-BRAIN", "Skull, scalp and non-brain tissue")),
    5: (ANATOMICAL_STRUCTURE, ("SCT", "35764002", "Brain ventricle")),
    6: (ANATOMICAL_STRUCTURE, (SCHEME, "CBL-BS", "Cerebellum and brainstem")),
    7: (ANATOMICAL_STRUCTURE, (SCHEME, "DEEP-GREY", "Deep grey matter, hippocampi and amygdalae")),
    10: (ABNORMAL_STRUCTURE, ("SCT", "367643001", "Cyst")),
    11: (ABNORMAL_STRUCTURE, ("SCT", "52988006", "Lesion")),
}


def _concept(triple):
    from highdicom.sr import CodedConcept

    scheme, value, meaning = triple
    return CodedConcept(value=value, scheme_designator=scheme, meaning=meaning)


# -- sources ---------------------------------------------------------------------------------------
def complete_type2(ds):
    """A copy of a source dataset with the type-2 patient and study attributes highdicom copies
    (:data:`TYPE2_ATTRIBUTES`) present: empty where the source lacks them (anonymised exports often
    drop AccessionNumber). The source files are never changed."""
    out = copy.copy(ds)
    for keyword in TYPE2_ATTRIBUTES:
        if keyword not in out:
            setattr(out, keyword, "")
    return out


def _frames_of(sources) -> list:
    """(IOP, IPP, pixel spacing) of every frame of the sources, in the order highdicom numbers them."""
    from model.dicom import _frames

    frames = []
    for ds in sources:
        frames += _frames(ds)
    return frames


def frame_voxels(sources, volume) -> tuple[np.ndarray, np.ndarray]:
    """The volume voxel at every source pixel.

    Returns
    -------
    voxels : np.ndarray, shape (frames, rows, cols, 3), int
        Nearest voxel index (i, j, k) on ``volume``'s RAS+ grid.
    inside : np.ndarray, shape (frames, rows, cols), bool
        Whether that voxel lies inside the volume.
    """
    rows, cols = int(sources[0].Rows), int(sources[0].Columns)
    inverse = np.linalg.inv(volume.affine)
    r, c = np.meshgrid(np.arange(rows, dtype=float), np.arange(cols, dtype=float), indexing="ij")
    out = []
    for iop, ipp, spacing in _frames_of(sources):
        row_mm, col_mm = spacing if spacing else (1.0, 1.0)
        lps = ipp[None, None, :] + c[..., None] * col_mm * iop[:3] + r[..., None] * row_mm * iop[3:]
        ras = lps @ LPS.T
        ijk = ras @ inverse[:3, :3].T + inverse[:3, 3]
        out.append(np.rint(ijk).astype(np.int64))
    voxels = np.stack(out)
    shape = np.asarray(volume.shape)
    inside = np.all((voxels >= 0) & (voxels < shape), axis=-1)
    return voxels, inside


def labels_on_frames(sources, volume, labels: np.ndarray) -> np.ndarray:
    """The label map resampled onto the source frames (nearest voxel), shape (frames, rows, cols), uint8."""
    voxels, inside = frame_voxels(sources, volume)
    out = np.zeros(inside.shape, np.uint8)
    v = voxels[inside]
    out[inside] = np.asarray(labels)[v[:, 0], v[:, 1], v[:, 2]]
    return out


def labels_from_frames(sources, volume, frames: np.ndarray) -> np.ndarray:
    """The inverse of :func:`labels_on_frames`: label values on the source frames back onto the volume grid."""
    voxels, inside = frame_voxels(sources, volume)
    out = np.zeros(volume.shape, np.uint8)
    v = voxels[inside]
    out[v[:, 0], v[:, 1], v[:, 2]] = np.asarray(frames)[inside]
    return out


# -- SEG -------------------------------------------------------------------------------------------
def segment_values(labels: np.ndarray) -> list[int]:
    """Label values present (not 0), in the order of :data:`model.segmentation.SEG_CLASSES`: segment n is the n-th."""
    present = set(np.unique(np.asarray(labels)).tolist())
    return [c.value for c in SEG_CLASSES if c.value != 0 and c.value in present]


def _algorithm(result):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    return hd.AlgorithmIdentificationSequence(
        name=f"{result.model_name} segmentation decoder"[:64],
        family=codes.DCM.ArtificialIntelligence,
        version=str(result.model_version)[:64] or "unknown",
    )


def segmentation_dataset(sources, volume, labels, result, *, series_number: int, manufacturer: str):
    """A BINARY DICOM Segmentation of ``labels`` on the source frames.

    Parameters
    ----------
    sources : list of pydicom.Dataset
        The source series' datasets (header only is enough), type-2 attributes completed.
    volume : model.volume.Volume
    labels : np.ndarray, shape ``volume.shape``, uint8
    result : model.inference.AnalysisResult
        For the algorithm's name and version.

    Returns
    -------
    (highdicom.seg.Segmentation, dict)
        The dataset and ``{label value: segment number}``.
    """
    import highdicom as hd

    values = segment_values(labels)
    if not values:
        raise ValueError("the label map is empty: nothing to segment")
    numbers = {v: i for i, v in enumerate(values, 1)}
    lut = np.zeros(256, np.uint8)
    for v, n in numbers.items():
        lut[v] = n
    frames = lut[labels_on_frames(sources, volume, labels)]
    algorithm = _algorithm(result)
    descriptions = []
    for v, n in numbers.items():
        (cat_value, cat_meaning), kind = SEGMENT_CODES[v]
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=n,
                segment_label=LABEL_NAMES[v][:64],
                segmented_property_category=_sct(cat_value, cat_meaning),
                segmented_property_type=_concept(kind),
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=algorithm,
                tracking_id=f"label {v}",
                tracking_uid=hd.UID(),
            )
        )
    seg = hd.seg.Segmentation(
        source_images=_shared_orientation(sources),
        pixel_array=frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=manufacturer,
        manufacturer_model_name=f"{result.model_name}"[:64],
        software_versions=str(result.model_version)[:64] or "unknown",
        device_serial_number=str(result.weights_sha256)[:16] or "unknown",
        content_label="GLORESNET",
        content_description="Tissue and lesion labels (Draw-EM values; research use only)",
    )
    seg.SeriesDescription = SEG_SERIES_DESCRIPTION
    return seg, numbers


#: Orientation cosines closer than this are the same orientation (scanners write rounding noise).
ORIENTATION_TOLERANCE = 1e-4


def _shared_orientation(sources) -> list:
    """The sources as highdicom takes them: orientations that differ only by rounding noise (a real
    GE series differs by 6e-8 from slice to slice) made identical to the first one's, in copies."""
    first = np.asarray(sources[0].get("ImageOrientationPatient", []), float)
    if len(sources) < 2 or first.size != 6:
        return list(sources)
    out = []
    for ds in sources:
        iop = np.asarray(ds.get("ImageOrientationPatient", first), float)
        if iop.shape == first.shape and np.abs(iop - first).max() <= ORIENTATION_TOLERANCE:
            ds = copy.copy(ds)
            ds.ImageOrientationPatient = sources[0].ImageOrientationPatient
        out.append(ds)
    return out


def segment_label_values(seg) -> dict:
    """``{segment number: Draw-EM label value}`` of a SEG written here (from each segment's tracking ID)."""
    out = {}
    for item in seg.SegmentSequence:
        tracking = str(getattr(item, "TrackingID", ""))
        if tracking.startswith("label "):
            out[int(item.SegmentNumber)] = int(tracking.split()[1])
    return out


def read_seg_labels(seg_path, sources, volume) -> np.ndarray:
    """A SEG written by :func:`segmentation_dataset` read back with highdicom onto ``volume``'s grid (uint8)."""
    import highdicom as hd

    seg = hd.seg.segread(str(seg_path))
    uids = [str(ds.SOPInstanceUID) for ds in sources]
    numbers = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=uids, combine_segments=True, relabel=False, skip_overlap_checks=True
    )
    lut = np.zeros(256, np.uint8)
    for n, v in segment_label_values(seg).items():
        lut[n] = v
    return labels_from_frames(sources, volume, lut[np.asarray(numbers, np.intp)])


# -- TID 1500 --------------------------------------------------------------------------------------
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
    return _ucum(value, meaning)


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
                _ucum("%", "percent"),
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
        name=_concept(name or _VOLUME),
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
    sites = [hd.sr.FindingSite(site, laterality=_concept(_LATERALITY[side]))] if side in _LATERALITY else None
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
                finding_type=_concept(kind),
                algorithm_id=algorithm,
                measurements=measurements,
            )
        )
    # measures of several labels (TID 1501), with their finding sites
    composite = [
        _measurement(by_key[k], pma, finding_sites=[hd.sr.FindingSite(_sct(*site))])
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
                name=codes.SCT.NumberOfLesions, value=float(count.value), unit=_ucum("{lesions}", "lesions")
            )
        ]
        if total is not None:
            items.append(_measurement(total, pma))
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=_tracking(f"{kind[2]}: number and total volume"),
                finding_type=_concept(kind),
                algorithm_id=algorithm,
                measurements=items,
            )
        )
    # findings (TID 1411): what, where, how large
    lesions = {(lesion.label, lesion.index): lesion for lesion in report.lesions}
    for i, f in enumerate(report.findings, 1):
        kind, site = _FINDING_CODES.get(f.kind, ((SCHEME, "FINDING", f.kind), ("SCT", "12738006", "Brain")))
        side = _side_of(f)
        laterality = _concept(_LATERALITY[side]) if side in _LATERALITY else None
        sites = [hd.sr.FindingSite(_concept(site), laterality=laterality)]
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
                hd.sr.Measurement(name=_concept(_VOLUME), value=float(lesion.volume_mm3), unit=_unit("mm3")),
                hd.sr.Measurement(name=codes.SCT.Diameter, value=float(lesion.diameter_mm), unit=_unit("mm")),
            ]
            groups.append(
                hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                    tracking_identifier=tracking,
                    referenced_volume_surface=surface,
                    finding_type=_concept(kind),
                    finding_category=_sct(*ABNORMAL_STRUCTURE),
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
                finding_type=_concept(kind),
                finding_sites=sites,
                algorithm_id=algorithm,
                measurements=measurements or None,
                **kwargs,
            )
            if kwargs
            else hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=tracking,
                finding_type=_concept(kind),
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
    sr = hd.sr.Comprehensive3DSR(
        evidence=[*sources, seg],
        content=content[0],
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=manufacturer,
        is_complete=True,
        is_final=False,
        is_verified=False,
    )
    sr.SeriesDescription = TID1500_SERIES_DESCRIPTION
    sr.SpecificCharacterSet = "ISO_IR 192"
    return sr
