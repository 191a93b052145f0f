"""The segmentation to PACS: a DICOM Segmentation (SEG) of the label map.

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

The TID 1500 Measurement Report that references its segments is :mod:`model.record.dicom_tid1500`;
the coded concepts both use are :mod:`model.record.dicom_common`.

Nothing here imports Qt. Callers check the disclosure rule (:func:`model.disclosure.may_show_result`)
before writing it.
"""

from __future__ import annotations

import copy

import numpy as np

from model.record.dicom_common import SCHEME, concept, sct
from model.segmentation import LABEL_NAMES, SEG_CLASSES

SEG_SERIES_DESCRIPTION = "GloResNet segmentation (research use only)"
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
    from model.dicom import frame_geometry

    frames = []
    for ds in sources:
        frames += frame_geometry(ds)
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
                segmented_property_category=sct(cat_value, cat_meaning),
                segmented_property_type=concept(kind),
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
