"""The label map's checks and its tissue volumes, and the voxel-grid helpers the other parts share.

Part of :mod:`model.measure` (the package docstring says what each part holds).

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
"""

from __future__ import annotations

import numpy as np

from model.segmentation import (
    CEREBELLUM_BRAINSTEM,
    CHANNEL_VALUES,
    CORTEX,
    CSF,
    DEEP_GREY,
    INTRACRANIAL_VALUES,
    PUNCTATE,
    VENTRICLES,
    WHITE_MATTER,
)

#: 26-connectivity for :func:`scipy.ndimage.label` (lesion components, the lateral ventricles).
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


def _bbox(mask: np.ndarray) -> tuple[slice, ...] | None:
    """Bounding box of a boolean mask (from its projections), or None when empty."""
    out = []
    for axis in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        if not len(hit):
            return None
        out.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return tuple(out)
