"""Simulated preterm-infant T2-weighted brain MRI: a parametric phantom of our own.

Everything here is generated from a few ellipsoids, a curved tube and smooth random fields written
for this project; no scan, atlas or template is read, copied or bundled, so the volumes (and any
weights trained only on them) can be redistributed freely. Uses:

1. the app's "Open sample" volume, which works on any machine (:func:`sample_image`);
2. a labelled simulated cohort on which the bundled demonstration weights are trained
   (:func:`model.simulation.cohort.write_cohort`, ``python -m model.simulation cohort``);
3. test data with known anatomy, known injuries and known voxel order.

What is modelled
----------------
Anatomy, drawn in a term-sized "anatomical" frame (mm, RAS+, origin at the cerebral centre) and
scaled with postmenstrual age (PMA; linear size x0.75 at 28 weeks, x1.0 from 40 weeks):
cerebral hemispheres with an interhemispheric fissure above a corpus callosum, a cortical grey
matter ribbon whose folding deepens from 28 to 44 weeks (sulci are the zero sheets of a smooth random
field, extended radially inwards from the surface), an operculising Sylvian fissure, unmyelinated
white matter (with a darker corpus callosum and, towards term, posterior limb of the internal
capsule), C-shaped lateral ventricles (frontal horn, body, atrium, temporal horn), a fluid-filled
cavum septi pellucidi, third and fourth ventricles, thalami, lentiform and caudate nuclei,
cerebellum and brainstem in the posterior fossa, basal cisterns and an extracerebral CSF rim.
Tissue labels use the dHCP / Draw-EM tissue codes (:data:`LABEL_NAMES`).

Neonatal T2 contrast: CSF brightest, unmyelinated white matter bright (darker with PMA as
myelination starts), cortical and deep grey matter dark, cerebellum intermediate.

Variation per seed: PMA (28-44 weeks), individual shape (axis scaling and a smooth polynomial
deformation), head position and rotation of a few degrees (the anatomy is evaluated at rotated
coordinates, i.e. resampled exactly without interpolation blur), natural ventricle size (x0.8-1.2,
slightly asymmetric), multiplicative bias field (+-10-20 %), Rician noise, arbitrary scanner
intensity scale, voxel size and on-disk voxel order.

Injuries (``injured=True``; a random non-empty subset with random, sometimes mild, severity, or,
in a third of injured infants, a single subtle finding: ventricles x1.25-1.5, 4-12 % white matter
loss, 1-2 cysts of 2-4 mm or 1-4 punctate lesions of 3-4 mm):
ventricular dilatation (ventricle radius x1.4-2.5, atrium most), white matter volume loss (the
cerebral surface moves inwards; wider extracerebral CSF and sulci, thinner corpus callosum,
ventricles x1.1-1.35 ex vacuo), cystic periventricular leukomalacia (T2-bright cysts of 2-6 mm
next to the ventricles) and punctate white matter lesions (T2-dark foci of 3-5 mm).
``Phantom.injury_mask`` marks the ventricle excess, the cysts, the punctate lesions and the lost
tissue.

What is not modelled
--------------------
It is not a substitute for real data (e.g. dHCP): no skull or scalp signal (volumes are
"skull-stripped"), no vessels, choroid plexus, hippocampi, cortical layering, motion or
acquisition artefacts, diffuse excessive high signal intensity, haemorrhage or the subtler
appearance of real injury. Its anatomy is schematic. A classifier trained on it learns these
simulated findings only: such weights are demonstration weights and carry no clinical meaning.

Command line::

    python -m model.simulation cohort OUT_DIR --n 40 --seed 0 [--injured-fraction 0.45]
    python -m model.simulation sample OUT.nii.gz [--seed 7] [--injured]

Package layout
--------------
The submodules form a chain; each imports only those before it:

- ``anatomy``: tissue codes (:data:`LABEL_NAMES`), the term-sized anatomy, brain size by PMA, the
  random draw of one infant, geometry helpers (anatomical frame). Imports no other submodule.
- ``injuries``: the random draw of an injured infant's injuries (:data:`SUBTLE_RANGES`,
  :data:`FINDING_KEYS`) and the painter of cysts and punctate lesions. Imports ``anatomy``.
- ``scanner``: the voxel grid (:data:`DEFAULT_SHAPE`), head pose, the scanner <-> anatomical frame
  mapping, and bias field, noise and intensity scale. Imports ``anatomy``.
- ``tissue_maps``: labels, noise-free T2 and injury mask on the grid. Imports ``anatomy``,
  ``injuries`` and ``scanner``.
- ``output``: :class:`Phantom`, :func:`make_phantom`, :func:`to_nifti`, :func:`reorient_for_disk`,
  :func:`sample_image`. Imports all of the above.

This ``__init__`` re-exports the public names, so ``from model.simulation.phantom import X`` works
for each of them; the private helpers are imported from their submodule.
"""

from model.simulation.phantom.anatomy import (
    BACKGROUND,
    CEREBELLUM_BRAINSTEM,
    CORTEX,
    CSF,
    DEEP_GM,
    LABEL_NAMES,
    PMA_LIMITS_WEEKS,
    PMA_RANGE_WEEKS,
    VENTRICLES,
    WHITE_MATTER,
)
from model.simulation.phantom.injuries import FINDING_KEYS, SUBTLE_FRACTION, SUBTLE_RANGES
from model.simulation.phantom.output import (
    SAMPLE_ORIENTATION,
    Phantom,
    make_phantom,
    reorient_for_disk,
    sample_image,
    to_nifti,
)
from model.simulation.phantom.scanner import DEFAULT_SHAPE, DEFAULT_SPACING_MM, FIELD_OF_VIEW_MM

__all__ = [
    "BACKGROUND",
    "CEREBELLUM_BRAINSTEM",
    "CORTEX",
    "CSF",
    "DEEP_GM",
    "DEFAULT_SHAPE",
    "DEFAULT_SPACING_MM",
    "FIELD_OF_VIEW_MM",
    "FINDING_KEYS",
    "LABEL_NAMES",
    "PMA_LIMITS_WEEKS",
    "PMA_RANGE_WEEKS",
    "Phantom",
    "SAMPLE_ORIENTATION",
    "SUBTLE_FRACTION",
    "SUBTLE_RANGES",
    "VENTRICLES",
    "WHITE_MATTER",
    "make_phantom",
    "reorient_for_disk",
    "sample_image",
    "to_nifti",
]
