"""Focal lesions: the connected components of the cyst (10) and punctate (11) labels.

Part of :mod:`model.measure` (the package docstring says what each part holds).

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

The lesion totals of the report (``cyst_count``, ``cyst_total_mm3``, ``punctate_count``,
``punctate_total_mm3``, :mod:`model.measure.findings`) sum the components kept; they have no age
reference.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import ConvexHull
from scipy.spatial.distance import pdist

from model import findings_types as ft
from model.measure.volumes import _26, _bbox, _ras, voxel_volume_mm3
from model.segmentation import CHANNEL_VALUES, CYST, PUNCTATE

#: Smallest component kept, per injury label (mm^3).
MIN_LESION_MM3 = {CYST: 10.0, PUNCTATE: 3.0}
#: Smallest component kept, in voxels (whatever the voxel size).
MIN_LESION_VOXELS = 2
#: Components at most this many points go straight to pdist; larger ones through their convex hull.
_PDIST_MAX_POINTS = 1500


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
