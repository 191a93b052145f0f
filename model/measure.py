"""Measurements, focal lesions and findings from one label map (issue 28, section 2).

:func:`report_from_labels` is the one function that turns a label map in the Draw-EM convention of
:mod:`model.segmentation` into a :class:`model.findings_types.SegmentationReport`: the app, the
command-line tools and a label map opened from a file (a site's dHCP pipeline output) all go
through it, so they give the same numbers for the same map.

Volumes (ml, through the affine)
--------------------------------
Every volume is ``voxel count x |det(affine[:3, :3])| / 1000`` on the label map's own grid, so it
holds for any voxel size and orientation (anisotropic and oblique included). Label values are
those of :data:`model.segmentation.SEG_CLASSES`:

============================= ================ ==================================================
key                           labels           notes
============================= ================ ==================================================
``icv_ml``                    1-3 5-7 10 11    intracranial volume: everything inside the skull
                                               (:data:`model.segmentation.INTRACRANIAL_VALUES`)
``brain_ml``                  2 3 6 7 11       total brain *tissue*: the CSF spaces (extra-cerebral
                                               CSF 1, ventricles 5) and cysts 10 (fluid-filled
                                               cavities where tissue was lost) are left out
``cortex_ml``                 2                cortical grey matter
``white_matter_ml``           3 11             white matter with its punctate lesions (a punctate
                                               lesion is a focus *in* white-matter tissue; a cyst
                                               is not tissue and is left out)
``deep_grey_ml``              7                basal ganglia and thalami (+ hippocampi/amygdalae)
``cerebellum_brainstem_ml``   6                cerebellum and brainstem (merged in our table)
``ventricles_ml``             5                lateral, third and fourth ventricles
``csf_ml``                    1                extra-cerebral CSF
``ventricles_fraction_icv``   5 / ICV          unit "1"
============================= ================ ==================================================

Lesion totals ``cyst_count``, ``cyst_total_mm3``, ``punctate_count``, ``punctate_total_mm3`` sum the
components kept (see below); they have no age reference.

Focal lesions
-------------
Connected components (26-connectivity, :func:`scipy.ndimage.label`) of label 10 (cyst) and 11
(punctate white-matter lesion). A component is kept when its volume reaches
:data:`MIN_LESION_MM3` (cyst 10 mm^3, about a sphere of 2.7 mm diameter, the smallest cyst a reader
calls; punctate 3 mm^3, about a sphere of 1.8 mm) *and* it has at least
:data:`MIN_LESION_VOXELS` voxels, so single-voxel noise of a segmentation is not a lesion. For each:
volume (mm^3, through the affine), largest diameter (mm, the largest distance between two voxel
centres in world coordinates: :func:`scipy.spatial.distance.pdist` over the vertices of the
component's convex hull, :class:`scipy.spatial.ConvexHull`, which contain the farthest pair), the
centroid in voxel coordinates and in RAS+ mm (the affine applied), and a confidence (the mean class
probability inside the component when ``probabilities`` are given, else 1.0).

Linear ventricular measures (automated on the label map)
--------------------------------------------------------
The cranial-ultrasound measures clinicians use, defined by Levene (Arch Dis Child 1981;56:900-904,
ventricular index) and Davies et al. (Arch Dis Child Fetal Neonatal Ed 2000;82:F218-F223) as used
for the reference values of Brouwer et al. (Radiology 2012;262:224-233): anterior horn width,
thalamo-occipital distance. Automated here, per hemisphere, on the map brought to the closest RAS+
voxel axes (axis flips/permutations only, :func:`nibabel.orientations.io_orientation`; distances are
along the scan's axes, so a head pitched by an angle t lengthens them by up to 1/cos t):

* midline: the left-right centroid of the intracranial mask (the falx);
* lateral ventricle of a side: the largest 26-connected component of the ventricle label lying more
  than 1.5 mm to that side of the midline (this removes the third and fourth ventricles, which are
  midline structures, and the aqueduct);
* plane of the foramina of Monro: the most anterior coronal slice in which ventricle voxels lie
  within 1.5 mm of the midline inside the craniocaudal extent of the deep grey matter, i.e. the
  anterior end of the third ventricle between the thalami;
* ``ventricular_index_{left,right}_mm`` (Levene 1981): in that coronal slice, the distance from the
  midline to the outer face of the most lateral voxel of that side's lateral ventricle;
* ``anterior_horn_width_{left,right}_mm`` (Davies 2000, Brouwer 2012: the diagonal width of the
  anterior horn at its widest point, same plane): the diameter of the largest disc inscribed in that
  side's ventricle cross-section in the slice, ``2 x max(EDT) - min in-plane voxel size``
  (:func:`scipy.ndimage.distance_transform_edt` with the voxel sizes), exact to one voxel;
* ``thalamo_occipital_distance_{left,right}_mm`` (Davies 2000, Brouwer 2012: from the outermost
  point of the thalamus at the choroid plexus to the outermost tip of the occipital horn, in the
  parasagittal plane): the anterior-posterior distance from the posterior face of that side's deep
  grey matter (its largest 26-connected component, so a separate hippocampus does not count) to the
  posterior face of that side's lateral ventricle.

What is *not* automated, and why: the atrial width (the fetal measure at the glomus of the choroid
plexus) needs the choroid plexus, which the label map does not have. The plane of the foramina of
Monro is found from the third ventricle; where a segmentation merges the frontal horns across an
unresolved septum pellucidum the plane falls further forward (at the frontal horns), so the index
then reads the frontal horns. The measures are analogues on a label map, not ultrasound readings: they
are compared only with references measured the same way (the Serag-template means of
:mod:`model.norms`, which have no spread, or a site's own fit), never with the ultrasound tables of
Brouwer et al. A measure that cannot be found (no deep grey matter, no third ventricle, no ventricle
on a side) is left out, and the report's ``notes`` say why.

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

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import ConvexHull
from scipy.spatial.distance import pdist

from model import findings_types as ft
from model.segmentation import (
    CEREBELLUM_BRAINSTEM,
    CHANNEL_VALUES,
    CORTEX,
    CSF,
    CYST,
    DEEP_GREY,
    INTRACRANIAL_VALUES,
    N_SEG_CLASSES,
    PUNCTATE,
    VENTRICLES,
    WHITE_MATTER,
)

#: Smallest component kept, per injury label (mm^3).
MIN_LESION_MM3 = {CYST: 10.0, PUNCTATE: 3.0}
#: Smallest component kept, in voxels (whatever the voxel size).
MIN_LESION_VOXELS = 2
#: Distance from the midline (mm) beyond which a ventricle voxel belongs to a side's lateral ventricle,
#: and within which a ventricle voxel is midline (third ventricle).
MIDLINE_MM = 1.5
#: |z| beyond which a measure is outside its reference (findings, "high"/"low" flags).
Z_LIMIT = 2.0
#: Declared rule where no spread exists (see the module notes): a fraction of the intracranial
#: volume at least this many times its expected value at the PMA.
RATIO_RULE = 1.5
#: Components at most this many points go straight to pdist; larger ones through their convex hull.
_PDIST_MAX_POINTS = 1500
#: A lesion centroid within this distance (mm) of the midline is called "midline".
_SIDE_MM = 3.0

_26 = np.ones((3, 3, 3), bool)
_KNOWN_VALUES = frozenset(int(v) for v in CHANNEL_VALUES)

#: key -> (name, label values summed). Order = display order.
VOLUMES = {
    "icv_ml": ("Intracranial volume", INTRACRANIAL_VALUES),
    "brain_ml": ("Total brain tissue", (CORTEX, WHITE_MATTER, CEREBELLUM_BRAINSTEM, DEEP_GREY, PUNCTATE)),
    "cortex_ml": ("Cortical grey matter", (CORTEX,)),
    "white_matter_ml": ("White matter", (WHITE_MATTER, PUNCTATE)),
    "deep_grey_ml": ("Deep grey matter", (DEEP_GREY,)),
    "cerebellum_brainstem_ml": ("Cerebellum + brainstem", (CEREBELLUM_BRAINSTEM,)),
    "ventricles_ml": ("Ventricles", (VENTRICLES,)),
    "csf_ml": ("Extra-cerebral CSF", (CSF,)),
}
_VOLUME_DEFINITION = {
    "icv_ml": "everything inside the skull: labels 1, 2, 3, 5, 6, 7, 10, 11",
    "brain_ml": "brain tissue: labels 2, 3, 6, 7, 11 (CSF spaces 1 and 5 and cysts 10 left out)",
    "cortex_ml": "label 2",
    "white_matter_ml": "labels 3 and 11 (white matter with its punctate lesions; cysts left out)",
    "deep_grey_ml": "label 7 (basal ganglia, thalami; hippocampi and amygdalae merged)",
    "cerebellum_brainstem_ml": "label 6 (cerebellum and brainstem merged)",
    "ventricles_ml": "label 5 (lateral, third and fourth ventricles)",
    "csf_ml": "label 1 (extra-cerebral CSF)",
}
_CONVENTION = "Draw-EM neonatal tissue labels (Makropoulos et al., NeuroImage 2015) as in model.segmentation"

LEVENE = "Levene, Arch Dis Child 1981;56:900-904"
DAVIES_BROUWER = (
    "Davies et al., Arch Dis Child Fetal Neonatal Ed 2000;82:F218-F223; Brouwer et al., Radiology 2012;262:224-233"
)
#: Linear measure key stem -> (name, definition).
LINEAR = {
    "ventricular_index": (
        "Ventricular index",
        f"coronal plane of the foramina of Monro: midline to the lateral wall of the lateral ventricle ({LEVENE}); "
        "automated on the label map (model.measure)",
    ),
    "anterior_horn_width": (
        "Anterior horn width",
        f"coronal plane of the foramina of Monro: width of the anterior horn at its widest point ({DAVIES_BROUWER}); "
        "automated as the largest inscribed disc of the horn's cross-section (model.measure)",
    ),
    "thalamo_occipital_distance": (
        "Thalamo-occipital distance",
        f"posterior edge of the thalamus to the tip of the occipital horn ({DAVIES_BROUWER}); "
        "automated along the anterior-posterior axis (model.measure)",
    ),
}
#: Keys whose deviation above the reference means ventricular dilatation.
VENTRICLE_KEYS = ("ventricles_ml", "ventricles_fraction_icv") + tuple(
    f"{stem}_{side}_mm" for stem in LINEAR for side in ("left", "right")
)
#: Every key that an age reference may exist for (volumes and linear measures).
REFERENCED_KEYS = tuple(VOLUMES) + ("ventricles_fraction_icv",) + VENTRICLE_KEYS[2:]
#: Units of the referenced keys.
UNITS = {**{k: "ml" for k in VOLUMES}, "ventricles_fraction_icv": "1", **{k: "mm" for k in VENTRICLE_KEYS[2:]}}


# ----------------------------------------------------------------------------------------------
# Input
# ----------------------------------------------------------------------------------------------


def check_labels(labels, affine) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a label map and its affine.

    Returns
    -------
    (np.ndarray, np.ndarray, np.ndarray)
        The labels as ``uint8`` (X, Y, Z), the affine as float (4, 4), and the voxel count of every
        label value, shape (256,), int64.

    Raises
    ------
    ValueError
        Not 3-D; not whole numbers; a value outside the label table of :mod:`model.segmentation`
        (e.g. an unmapped Serag map with 8/9: map it with :func:`model.segmentation.from_serag`);
        an affine that is not a finite, invertible 4x4 matrix.
    """
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise ValueError(f"a label map must be 3-D (X, Y, Z), got shape {labels.shape}")
    affine = np.asarray(affine, float)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise ValueError("the label map's affine must be a finite, invertible 4x4 matrix")
    if labels.dtype != np.uint8:
        if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
            raise ValueError("the label map has NaN or infinite values")
        if labels.size and (labels.min() < 0 or labels.max() > 255):
            raise ValueError(f"label values must be 0-255, got {labels.min()}-{labels.max()}")
        as_int = labels.astype(np.uint8)
        if labels.dtype.kind == "f" and not np.array_equal(as_int, labels):
            raise ValueError("label values must be whole numbers")
        labels = as_int
    return labels, affine, _counts(labels)


def _counts(labels: np.ndarray) -> np.ndarray:
    """Voxel count of every label value (256,), int64; raises ValueError for values outside the table."""
    counts = np.bincount(labels.ravel(), minlength=256)
    unknown = sorted(set(np.flatnonzero(counts).tolist()) - _KNOWN_VALUES)
    if unknown:
        raise ValueError(
            f"label value(s) {unknown} are not in the label table ({sorted(_KNOWN_VALUES)}); "
            "a Serag / Draw-EM template map needs model.segmentation.from_serag first"
        )
    return counts


def voxel_volume_mm3(affine: np.ndarray) -> float:
    """|det(affine[:3, :3])|: the volume of one voxel in mm^3."""
    return float(abs(np.linalg.det(np.asarray(affine, float)[:3, :3])))


# ----------------------------------------------------------------------------------------------
# Volumes
# ----------------------------------------------------------------------------------------------


def volumes_ml(labels: np.ndarray, affine: np.ndarray, counts: np.ndarray | None = None) -> dict[str, float]:
    """Tissue volumes of :data:`VOLUMES` (ml) and ``ventricles_fraction_icv`` (unit 1).

    Parameters
    ----------
    labels : np.ndarray, shape (X, Y, Z), uint8 label values of :mod:`model.segmentation`
    affine : np.ndarray, shape (4, 4), voxel -> RAS+ mm
    counts : np.ndarray, shape (256,), optional
        Voxel count per label value when already known.

    Returns
    -------
    dict
        key -> value; ``ventricles_fraction_icv`` is 0 when the ICV is empty.
    """
    if counts is None:
        counts = np.bincount(np.asarray(labels, np.uint8).ravel(), minlength=256)
    counts = np.asarray(counts, np.float64)
    ml = voxel_volume_mm3(affine) / 1000.0
    out = {key: float(sum(counts[v] for v in values) * ml) for key, (_, values) in VOLUMES.items()}
    out["ventricles_fraction_icv"] = out["ventricles_ml"] / out["icv_ml"] if out["icv_ml"] > 0 else 0.0
    return out


def _mask(labels: np.ndarray, values) -> np.ndarray:
    """Boolean mask of the voxels whose label is one of ``values`` (a lookup table: faster than np.isin)."""
    lut = np.zeros(256, bool)
    lut[list(values)] = True
    return lut[labels]


def _centroid_voxel(mask: np.ndarray) -> np.ndarray | None:
    """Centre of mass of a boolean mask in voxel coordinates, from its marginal sums (fast); None if empty."""
    total = int(mask.sum())
    if total == 0:
        return None
    out = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        profile = mask.sum(axis=other, dtype=np.int64)
        out.append(float(profile @ np.arange(mask.shape[axis])) / total)
    return np.array(out)


def _ras(affine: np.ndarray, voxel: np.ndarray) -> tuple:
    return tuple(float(v) for v in affine[:3, :3] @ voxel + affine[:3, 3])


# ----------------------------------------------------------------------------------------------
# Lesions
# ----------------------------------------------------------------------------------------------


def _diameter_mm(points_mm: np.ndarray) -> float:
    """Largest distance between two points (N, 3), via the convex hull for large N."""
    if len(points_mm) < 2:
        return 0.0
    if len(points_mm) > _PDIST_MAX_POINTS:
        try:
            points_mm = points_mm[ConvexHull(points_mm, qhull_options="QJ").vertices]
        except Exception:  # noqa: BLE001 - degenerate hull: fall back to a bounded subsample of the points
            step = int(math.ceil(len(points_mm) / _PDIST_MAX_POINTS))
            points_mm = points_mm[::step]
    return float(pdist(points_mm).max())


def lesion_components(
    labels: np.ndarray,
    affine: np.ndarray,
    probabilities: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
) -> tuple[list[ft.Lesion], list[float]]:
    """Connected components of the cyst (10) and punctate (11) labels, largest first within each kind.

    Parameters
    ----------
    labels : np.ndarray, shape (X, Y, Z), uint8
    affine : np.ndarray, shape (4, 4)
    probabilities : np.ndarray, shape (N_SEG_CLASSES, X, Y, Z), float, optional
        Class probabilities on the same grid (channel order of :data:`model.segmentation.SEG_CLASSES`).
    confidence : np.ndarray, shape (X, Y, Z), float, optional
        The probability of each voxel's own label (as :func:`model.segmentation.resample_probabilities`
        returns it); used when ``probabilities`` is not given.

    Returns
    -------
    (list of Lesion, list of float)
        The lesions kept (see :data:`MIN_LESION_MM3`) and their confidences (mean probability of
        their class inside the component; 1.0 without probabilities or confidence).
    """
    lesions, confidences = [], []
    vox_mm3 = voxel_volume_mm3(affine)
    channel = {int(v): i for i, v in enumerate(CHANNEL_VALUES)}
    for value, kind in ((CYST, ft.CYSTIC_LESION), (PUNCTATE, ft.PUNCTATE_LESION)):
        mask = labels == value
        box = _bbox(mask)
        if box is None:
            continue
        comp, n = ndi.label(mask[box], structure=_26)
        sizes = np.bincount(comp.ravel(), minlength=n + 1)
        keep = [
            i
            for i in range(1, n + 1)
            if sizes[i] >= MIN_LESION_VOXELS and sizes[i] * vox_mm3 >= MIN_LESION_MM3[value] - 1e-9
        ]
        keep.sort(key=lambda i: -sizes[i])
        slices = ndi.find_objects(comp)
        offset = np.array([s.start for s in box])
        found: list[tuple[ft.Lesion, float]] = []
        for i in keep:
            sub = slices[i - 1]
            idx = np.argwhere(comp[sub] == i) + offset + np.array([s.start for s in sub])
            centre = idx.mean(axis=0)
            points_mm = idx @ affine[:3, :3].T
            p = probabilities[channel[value]] if probabilities is not None else confidence
            if p is not None:
                conf = float(np.clip(np.mean(p[idx[:, 0], idx[:, 1], idx[:, 2]], dtype=np.float64), 0.0, 1.0))
            else:
                conf = 1.0
            found.append(
                (
                    ft.Lesion(
                        kind=kind,
                        label=value,
                        index=len(found) + 1,
                        volume_mm3=float(sizes[i] * vox_mm3),
                        diameter_mm=_diameter_mm(points_mm),
                        centroid_ras_mm=_ras(affine, centre),
                        centroid_voxel=tuple(float(c) for c in centre),
                    ),
                    conf,
                )
            )
        lesions += [f[0] for f in found]
        confidences += [f[1] for f in found]
    return lesions, confidences


# ----------------------------------------------------------------------------------------------
# Linear ventricular measures
# ----------------------------------------------------------------------------------------------


def _largest_component(mask: np.ndarray) -> np.ndarray | None:
    box = _bbox(mask)
    if box is None:
        return None
    comp, n = ndi.label(mask[box], structure=_26)
    if n > 1:
        sizes = np.bincount(comp.ravel())
        sizes[0] = 0
        part = comp == int(sizes.argmax())
    else:
        part = comp > 0
    out = np.zeros(mask.shape, bool)
    out[box] = part
    return out


def _bbox(mask: np.ndarray) -> tuple[slice, ...] | None:
    """Bounding box of a boolean mask (from its projections), or None when empty."""
    out = []
    for axis in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        if not len(hit):
            return None
        out.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return tuple(out)


def linear_measures(
    labels: np.ndarray, affine: np.ndarray, icv_centre: np.ndarray | None = None
) -> tuple[dict[str, float], list[str]]:
    """The automated ventricular index, anterior horn width and thalamo-occipital distance (mm).

    See the module docstring for the definitions and their sources.

    Parameters
    ----------
    labels : np.ndarray, shape (X, Y, Z), uint8
    affine : np.ndarray, shape (4, 4)
    icv_centre : np.ndarray, shape (3,), optional
        Centroid of the intracranial mask in voxel coordinates of ``labels`` (computed when absent).

    Returns
    -------
    (dict, list of str)
        ``{"ventricular_index_left_mm": ..., ...}`` for the measures found, and notes saying why
        any is missing.
    """
    if icv_centre is None:
        icv_centre = _centroid_voxel(_mask(labels, INTRACRANIAL_VALUES))
    ornt = nib.orientations.io_orientation(affine)
    lab = nib.orientations.apply_orientation(labels, ornt)  # axes ~ R, A, S (flips/permutations only)
    can = affine @ nib.orientations.inv_ornt_aff(ornt, labels.shape)
    sx, sy, sz = (float(v) for v in np.linalg.norm(can[:3, :3], axis=0))
    out: dict[str, float] = {}
    notes: list[str] = []
    box = _bbox(_mask(lab, (VENTRICLES, DEEP_GREY)))
    if icv_centre is None or box is None or not (lab[box] == VENTRICLES).any():
        return out, ["linear ventricular measures: no intracranial volume or no ventricles in the label map"]
    centre = (np.linalg.inv(can) @ affine @ np.append(icv_centre, 1.0))[:3]  # in the RAS-ordered voxel frame
    lab = lab[box]  # everything below works on the box around the ventricles and deep grey matter
    vent = lab == VENTRICLES
    deep = lab == DEEP_GREY
    # signed distance of each x column from the midline (+ = the patient's right)
    dx_mm = (np.arange(box[0].start, box[0].stop) - centre[0]) * sx
    sides = {"right": dx_mm > MIDLINE_MM, "left": dx_mm < -MIDLINE_MM}
    lateral, deep_side = {}, {}
    for side, columns in sides.items():
        col = columns[:, None, None]
        lateral[side] = _largest_component(vent & col)
        deep_side[side] = _largest_component(deep & col)
    # plane of the foramina of Monro: anterior end of the midline ventricle within the deep grey's z extent
    plane = None
    if deep.any():
        z_deep = np.flatnonzero(deep.any(axis=(0, 1)))
        midline = np.abs(dx_mm) <= MIDLINE_MM
        third = vent[midline][:, :, z_deep[0] : z_deep[-1] + 1]
        y_mid = np.flatnonzero(third.any(axis=(0, 2)))
        if len(y_mid):
            plane = int(y_mid[-1])
    if plane is None:
        notes.append(
            "ventricular index and anterior horn width not measured: no third ventricle found at the midline "
            "between the deep grey matter (the plane of the foramina of Monro)"
        )
    for side in ("left", "right"):
        lv = lateral[side]
        if lv is None:
            notes.append(f"linear ventricular measures, {side}: no lateral ventricle on that side")
            continue
        if plane is not None:
            section = lv[:, plane, :]
            xs = np.flatnonzero(section.any(axis=1))
            if len(xs):
                out[f"ventricular_index_{side}_mm"] = float(np.abs(dx_mm[xs]).max() + sx / 2)
                edt = ndi.distance_transform_edt(np.pad(section, 1), sampling=(sx, sz))
                out[f"anterior_horn_width_{side}_mm"] = float(max(2 * edt.max() - min(sx, sz), min(sx, sz)))
            else:
                notes.append(
                    f"ventricular index and anterior horn width, {side}: no lateral ventricle in the plane of Monro"
                )
        dg = deep_side[side]
        if dg is None:
            notes.append(f"thalamo-occipital distance, {side}: no deep grey matter on that side")
        else:
            y_thal = int(np.flatnonzero(dg.any(axis=(0, 2)))[0])
            y_occ = int(np.flatnonzero(lv.any(axis=(0, 2)))[0])
            out[f"thalamo_occipital_distance_{side}_mm"] = float(max(y_thal - y_occ, 0) * sy)
    return out, notes


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
    norms : model.norms.NormTable or None
        The age references; None = the bundled table (:meth:`model.norms.NormTable.load`).
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
            from model.norms import NormTable

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
