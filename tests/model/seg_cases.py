"""Tiny seeded cases with a segmentation for the output tests (CLI, PDF, DICOM, worklist).

:func:`drawn_head` draws a neonatal-like head as a Draw-EM label map (ellipsoid shells of CSF,
cortex and white matter, two lateral ventricles, deep grey matter, cerebellum + brainstem, one cyst
and one punctate lesion) on an anisotropic grid, with T2-like intensities. :func:`seg_result` makes
an :class:`model.inference.AnalysisResult` carrying that map and its report, as an analysis with a
decoder-equipped network would.
"""

from __future__ import annotations

import numpy as np

from model.inference import AnalysisResult
from model.measure import report_from_labels
from model.ood_gate import OODVerdict
from model.volume import volume_from_array

#: T2 intensity per label (CSF bright, white matter brighter than cortex in the neonate).
T2 = {0: 0.0, 1: 900.0, 2: 420.0, 3: 600.0, 4: 200.0, 5: 950.0, 6: 450.0, 7: 380.0, 10: 1000.0, 11: 150.0}
#: Where the cyst and the punctate lesion are drawn (voxel centres).
CYST_AT = (14, 30, 18)
PUNCTATE_AT = (32, 24, 20)


def _ellipsoid(shape, centre, radii):
    grid = np.indices(shape).astype(float)
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii)) <= 1.0


def draw_labels(shape=(46, 54, 40)) -> np.ndarray:
    """The drawn head's label map (uint8), scaled to ``shape`` (the cyst and punctate lesion move with it)."""
    f = np.asarray(shape, float) / np.asarray((46, 54, 40), float)
    c = (np.asarray(shape) - 1) / 2

    def at(offset):
        return tuple(c + np.asarray(offset) * f)

    def radii(r):
        return tuple(np.maximum(np.asarray(r) * f, 0.6))

    labels = np.zeros(shape, np.uint8)
    labels[_ellipsoid(shape, c, radii((21, 25, 18)))] = 4  # scalp / skull
    labels[_ellipsoid(shape, c, radii((19, 23, 16)))] = 1  # extra-cerebral CSF
    labels[_ellipsoid(shape, c, radii((17.5, 21.5, 14.5)))] = 2  # cortex
    labels[_ellipsoid(shape, c, radii((15, 19, 12)))] = 3  # white matter
    labels[_ellipsoid(shape, at((0, 2, -1)), radii((6, 6, 5)))] = 7  # deep grey
    for side in (-1, 1):
        labels[_ellipsoid(shape, at((side * 5, 3, 3)), radii((2.5, 9, 3)))] = 5  # lateral ventricles
    labels[_ellipsoid(shape, at((0, -15, -9)), radii((7, 5, 4)))] = 6  # cerebellum + brainstem
    labels[_ellipsoid(shape, at(np.subtract(CYST_AT, (22.5, 26.5, 19.5))), radii((2.2, 2.2, 1.8)))] = 10  # cyst
    labels[_ellipsoid(shape, at(np.subtract(PUNCTATE_AT, (22.5, 26.5, 19.5))), radii((1.2, 1.2, 1.0)))] = 11
    return labels


def drawn_head(shape=(46, 54, 40), spacing=(2.0, 2.2, 2.6), seed=0):
    """(volume, labels): a RAS+ volume with T2-like values and its label map (uint8)."""
    rng = np.random.default_rng(seed)
    c = (np.asarray(shape) - 1) / 2
    labels = draw_labels(shape)
    data = np.vectorize(T2.get)(labels).astype(np.float32) + rng.normal(0, 15, shape).astype(np.float32)
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = -np.asarray(spacing) * c
    return volume_from_array(np.clip(data, 0, None), affine), labels


def seg_result(volume, labels, *, pma_weeks=None, ood_reasons=None, probability=0.73, heatmap=True):
    """An AnalysisResult with ``labels`` and their report (and a heatmap peaked at the cyst)."""
    report = report_from_labels(labels, volume.affine, pma_weeks=pma_weeks, pma_source="test" if pma_weeks else "")
    hm = None
    if heatmap:
        grid = np.indices(volume.shape).astype(float)
        hm = np.exp(-sum((g - a) ** 2 for g, a in zip(grid, CYST_AT)) / 40.0).astype(np.float32)
    return AnalysisResult(
        probability=probability,
        pass_probabilities=(probability - 0.01, probability + 0.01),
        heatmap=hm,
        affine=volume.affine.copy(),
        decision_threshold=0.5,
        indeterminate_band=0.1,
        model_name="seg-test",
        model_version="0.1",
        weights_sha256="ef" * 32,
        demonstration=True,
        device="cpu",
        ood=OODVerdict(reasons=list(ood_reasons)) if ood_reasons else OODVerdict(reasons=[]),
        labels=labels,
        label_confidence=np.ones(labels.shape, np.float16),
        report=report,
    )
