"""A drawn neonatal-like label map and its T2-like scan, for the reading-room tests (issue 29).

The map is in our Draw-EM label values (:data:`model.segmentation.SEG_CLASSES`): nested ellipsoids
of non-brain (4), extra-cerebral CSF (1), cortex (2) and white matter (3), deep grey matter (7) in
the middle, two lateral ventricles (5), the cerebellum + brainstem (6) below and behind, one cyst
(10, a sphere in the right white matter) and one punctate lesion (11, left white matter).
"""

from __future__ import annotations

import numpy as np

from model.volume import volume_from_array

#: T2-like intensity of each label (CSF bright, white matter brighter than cortex in the neonate).
T2 = {0: 0.0, 1: 220.0, 2: 90.0, 3: 140.0, 4: 40.0, 5: 230.0, 6: 100.0, 7: 80.0, 10: 240.0, 11: 30.0}
SHAPE = (40, 46, 36)
CYST_CENTRE = (27, 26, 21)
PUNCTATE_VOXELS = ((11, 26, 22), (12, 26, 22), (11, 27, 22), (12, 27, 22))


def _ellipsoid(shape, centre, radii):
    grid = np.indices(shape, dtype=float)
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii)) <= 1.0


def drawn_labels(shape=SHAPE, lesions: bool = True) -> np.ndarray:
    """The label map (uint8, RAS+ voxel grid of ``shape``)."""
    c = tuple((n - 1) / 2 for n in shape)
    x, y, z = shape
    labels = np.zeros(shape, np.uint8)
    labels[_ellipsoid(shape, c, (0.48 * x, 0.48 * y, 0.48 * z))] = 4
    labels[_ellipsoid(shape, c, (0.42 * x, 0.42 * y, 0.42 * z))] = 1
    labels[_ellipsoid(shape, c, (0.38 * x, 0.38 * y, 0.38 * z))] = 2
    labels[_ellipsoid(shape, c, (0.32 * x, 0.33 * y, 0.31 * z))] = 3
    labels[_ellipsoid(shape, (c[0], c[1] - 0.25 * y, c[2] - 0.25 * z), (0.2 * x, 0.12 * y, 0.1 * z))] = 6
    labels[_ellipsoid(shape, (c[0], c[1], c[2] - 0.05 * z), (0.14 * x, 0.1 * y, 0.08 * z))] = 7
    for side in (-1, 1):
        labels[
            _ellipsoid(shape, (c[0] + side * 0.09 * x, c[1] + 0.03 * y, c[2] + 0.1 * z), (0.04 * x, 0.2 * y, 0.06 * z))
        ] = 5
    if lesions:
        labels[_ellipsoid(shape, CYST_CENTRE, (2.2, 2.2, 2.2))] = 10
        for ijk in PUNCTATE_VOXELS:
            labels[ijk] = 11
    return labels


def drawn_volume(labels: np.ndarray, affine=None, seed: int = 0):
    """A T2-like :class:`model.volume.Volume` of the label map (a little noise)."""
    rng = np.random.default_rng(seed)
    data = np.vectorize(T2.get, otypes=[np.float32])(labels) + rng.normal(0, 3, labels.shape).astype(np.float32)
    data[labels == 0] = 0.0
    return volume_from_array(data, np.diag([1.0, 1.0, 1.0, 1.0]) if affine is None else affine)


def drawn_scan(labels: np.ndarray | None = None, affine=None):
    """(Scan prepared as the app prepares a file, labels on its RAS+ grid)."""
    from viewer.display import make_scan

    labels = drawn_labels() if labels is None else labels
    volume = drawn_volume(labels, affine)
    volume.sha256 = "5e" * 32  # decisions are matched to a scan by its hash
    return make_scan(volume, "drawn"), labels
