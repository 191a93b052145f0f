"""Measurements, focal lesions and findings from one label map (issue 28, section 2).

:func:`report_from_labels` is the one function that turns a label map in the Draw-EM convention of
:mod:`model.segmentation` into a :class:`model.findings_types.SegmentationReport`: the app, the
command-line tools and a label map opened from a file (a site's dHCP pipeline output) all go
through it, so they give the same numbers for the same map.

Each part documents its own definitions and sources:

* :mod:`model.measure.volumes`: the label map's checks (:func:`check_labels`), the tissue volumes
  in ml through the affine (:data:`VOLUMES`, :func:`volumes_ml`) and the voxel-grid helpers (masks,
  centroids, bounding boxes) the other parts share. Imports nothing of this package.
* :mod:`model.measure.lesions`: the focal lesions, connected components of the cyst and punctate
  labels (:func:`lesion_components`, :data:`MIN_LESION_MM3`). Imports ``volumes``.
* :mod:`model.measure.linear`: the automated linear ventricular measures (ventricular index,
  anterior horn width, thalamo-occipital distance: :func:`linear_measures`, :data:`LINEAR`).
  Imports ``volumes``.
* :mod:`model.measure.findings`: the findings and :func:`report_from_labels`, which puts the parts
  together and applies the age references (:mod:`model.norms_table`, and its :data:`Z_LIMIT`);
  also the keys an age reference may exist for (:data:`REFERENCED_KEYS`, :data:`UNITS`). Imports
  the three parts above.

:mod:`model.norms` imports this package (to measure template and normal label maps and fit tables
from them), and this package imports only the table (:mod:`model.norms_table`), so the dependency
goes one way.
"""

from model.measure.findings import (
    RATIO_RULE,
    REFERENCED_KEYS,
    UNITS,
    VENTRICLE_KEYS,
    Z_LIMIT,
    report_from_labels,
)
from model.measure.lesions import MIN_LESION_MM3, MIN_LESION_VOXELS, lesion_components
from model.measure.linear import DAVIES_BROUWER, LEVENE, LINEAR, MIDLINE_MM, linear_measures
from model.measure.volumes import VOLUMES, check_labels, volumes_ml, voxel_volume_mm3

__all__ = [
    "DAVIES_BROUWER",
    "LEVENE",
    "LINEAR",
    "MIDLINE_MM",
    "MIN_LESION_MM3",
    "MIN_LESION_VOXELS",
    "RATIO_RULE",
    "REFERENCED_KEYS",
    "UNITS",
    "VENTRICLE_KEYS",
    "VOLUMES",
    "Z_LIMIT",
    "check_labels",
    "lesion_components",
    "linear_measures",
    "report_from_labels",
    "voxel_volume_mm3",
    "volumes_ml",
]
