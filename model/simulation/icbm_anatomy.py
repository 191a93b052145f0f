"""Training anatomy from a real brain: the adult ICBM152 2009c tissue maps, sized and shaped like an infant's.

Why: the generator's phantom (:mod:`model.simulation.phantom`) is schematic, and the weights trained
on it find injuries drawn into phantom anatomy far better than the same injuries drawn into real
anatomy (``python -m model.simulation.anatomy_gap``). SynthSeg (Billot et al., Medical Image Analysis
86, 2023) trains on label maps of *real* brains. The only real anatomy this project may train on is
the adult ICBM152 2009c nonlinear asymmetric template (Copyright (C) 1993-2009 Louis Collins, McConnell
Brain Imaging Centre, Montreal Neurological Institute, McGill University; permission to use, copy,
modify and distribute with this notice retained); the neonatal Serag templates are for evaluation only.

What is done to it (ours, in MNI millimetres, RAS+):

* tissue classes from the GM/WM/CSF probability maps by a weighted arg-max, the weights jittered per
  subject and set so that cortex, white matter and CSF come near a term infant's proportions (adult
  brains have much more cortex relative to white matter); the maps are smoothed before the arg-max
  in younger infants (``0.12 * (40 - PMA)`` voxels), which removes the finer folds;
* lateral and third ventricles: CSF at least 4 mm deep inside the cerebrum in the central box,
  grown by 1-3 voxels to the infant's ventricle fraction (about 2 % of the intracranial volume, as
  measured on the Serag templates; the phantom's ventricles were once half that, and real normal
  brains then looked dilated to the weights);
* deep grey matter: grey-matter-probable tissue in the basal-ganglia box plus the thalami
  (ellipsoids at (+-11, -18, 6) mm); cerebellum and brainstem: tissue below a sloped tentorial line
  and in the brainstem box;
* an extra-cerebral CSF rim of 1-3 mm (infant mm) and a 4 mm skull-and-scalp shell (label 4), as the
  phantom has;
* the voxel size chosen so that the intracranial volume is the Serag templates' for the drawn PMA
  (their brain + CSF volume by week, :data:`ICV_ML_BY_WEEK`; summary statistics only), times
  U(0.9, 1.1);
* injuries drawn into the map by the real-anatomy mode (:func:`model.simulation.real_anatomy.insert_injuries`):
  the same injury model the real-anatomy evaluation uses, on other anatomy.

The result is an :class:`model.simulation.synth.AnatomyPair` the renderer treats like a phantom's.
It is one adult brain: the renderer's affine and elastic deformations supply the variation between
subjects. What it is not: an infant brain (no myelination pattern, adult folding at every age,
approximate cerebellum and deep grey boundaries).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi

from model.simulation import real_anatomy as ra
from model.simulation.anatomy_gap import label_pair
from model.simulation.phantom import BACKGROUND, CEREBELLUM_BRAINSTEM, CORTEX, CSF, DEEP_GM, VENTRICLES, WHITE_MATTER
from model.simulation.synth import AnatomyPair

#: Files read from the ICBM folder (the layout of ``../shared/data/icbm152-2009c``).
ICBM_FILES = ("2mm_brainmask", "2mm_tpm_csf", "2mm_tpm_gm", "2mm_tpm_wm")
#: Intracranial (brain + CSF) volume of the Serag templates by week of PMA (ml; measured from their
#: tissue labels, labels 1-9 except 4, 0.859 mm voxels). Summary statistics, not images.
ICV_ML_BY_WEEK = {
    28: 160.5, 29: 167.4, 30: 190.8, 31: 205.3, 32: 223.2, 33: 253.6, 34: 273.0, 35: 301.6, 36: 330.7,
    37: 338.8, 38: 389.2, 39: 440.2, 40: 435.5, 41: 444.2, 42: 495.4, 43: 506.7, 44: 508.1,
}  # fmt: skip
_SKULL_MM = 4.0


@lru_cache(maxsize=2)
def _load(folder: str) -> tuple:
    folder_p = Path(folder)
    arrays = []
    affine = None
    for name in ICBM_FILES:
        path = folder_p / f"{name}.nii.gz"
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: not found (expected the ICBM152 2009c layout {', '.join(f + '.nii.gz' for f in ICBM_FILES)})"
            )
        img = nib.as_closest_canonical(nib.load(path))
        if affine is None:
            affine = img.affine
        elif img.shape != arrays[0].shape or not np.allclose(img.affine, affine, atol=1e-3):
            raise ValueError(f"{path}: not on the grid of {folder_p / (ICBM_FILES[0] + '.nii.gz')}")
        arrays.append(np.asarray(img.dataobj, dtype=np.float32))
    mask, csf, gm, wm = arrays
    idx = np.indices(mask.shape).reshape(3, -1).astype(np.float32)
    xyz = (affine[:3, :3] @ idx + affine[:3, 3:]).reshape((3,) + mask.shape)
    spacing = float(np.sqrt((affine[:3, :3] ** 2).sum(axis=0)).mean())
    return mask > 0, csf, gm, wm, xyz, spacing


def _largest(mask: np.ndarray) -> np.ndarray:
    cc, n = ndi.label(mask)
    if n <= 1:
        return mask
    sizes = np.bincount(cc.ravel())
    sizes[0] = 0
    return cc == sizes.argmax()


def icbm_labels(folder: str | Path, pma_weeks: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """An infant-sized tissue label map from the ICBM152 2009c probability maps.

    Parameters
    ----------
    folder : path
        Folder holding :data:`ICBM_FILES` (``*.nii.gz``, one grid).
    pma_weeks : float
        Post-menstrual age (28-44) that sets the size and the smoothing of the folds.
    rng : numpy Generator
        Jitter of the tissue weights, ventricle growth, CSF rim and size (same seed, same map).

    Returns
    -------
    labels : np.ndarray, shape (X, Y, Z), uint8
        Phantom tissue codes (:data:`model.simulation.phantom.LABEL_NAMES`) on a RAS+ grid, cut to
        the head's box with a margin of about 8 % per side.
    spacing_mm : float
        Isotropic voxel size (mm) that gives the map the drawn intracranial volume.

    Raises
    ------
    FileNotFoundError, ValueError
        A file is missing, or the files are not on one grid.
    """
    mask, csf, gm, wm, (x, y, z), sp = _load(str(Path(folder).resolve()))
    pma = float(np.clip(pma_weeks, 28.0, 44.0))
    w_csf, w_wm = rng.uniform(1.2, 1.6), rng.uniform(1.5, 2.0)

    def partition(c, g, w):
        t = np.argmax(np.stack([np.full_like(c, 0.05), w_csf * c, g, w_wm * w]), axis=0).astype(np.uint8)
        t[~mask & (t > 0) & ((c + g + w) < 0.5)] = 0
        return t, _largest((t == 2) | (t == 3))

    # depth inside the cerebrum and the ventricles from the unsmoothed maps: smoothing opens the
    # ventricles to the outside CSF in young infants
    raw, raw_brain = partition(csf, gm, wm)
    depth = ndi.distance_transform_edt(ndi.binary_fill_holes(raw_brain), sampling=sp)
    sigma = 0.12 * max(0.0, 40.0 - pma)
    csf_raw = csf
    if sigma > 0:
        csf, gm, wm = (ndi.gaussian_filter(a, sigma) for a in (csf, gm, wm))
        tissue, brain = partition(csf, gm, wm)
    else:
        tissue, brain = raw, raw_brain
    out = np.zeros(tissue.shape, np.uint8)
    out[ndi.binary_fill_holes(brain | (tissue == 1)) & (tissue == 1)] = CSF
    out[brain & (tissue == 2)] = CORTEX
    out[brain & (tissue == 3)] = WHITE_MATTER
    central = (np.abs(x) < 32) & (y > -48) & (y < 35) & (z > -20) & (z < 35)
    # ventricles from the unsmoothed CSF map (smoothing would close them in young infants)
    vent = (raw == 1) & central & (depth > 4) & (csf_raw > 0.5)
    cc, _ = ndi.label(vent)
    sizes = np.bincount(cc.ravel())
    sizes[0] = 0
    vent = np.isin(cc, np.nonzero(sizes >= 30)[0])
    for _ in range(int(rng.integers(1, 4))):
        vent |= ndi.binary_dilation(vent) & (out > 0) & central & (depth > 4)
    out[vent] = VENTRICLES
    basal = (np.abs(x) < 30) & (y > -38) & (y < 30) & (z > -14) & (z < 24) & (depth > 6)
    thalami = ((np.abs(x) - 11) / 10) ** 2 + ((y + 18) / 16) ** 2 + ((z - 6) / 10) ** 2 <= 1
    tissue_now = (out == CORTEX) | (out == WHITE_MATTER)
    out[(basal & ((out == CORTEX) | ((out == WHITE_MATTER) & (gm > 0.25)))) | (thalami & tissue_now)] = DEEP_GM
    posterior_fossa = (y < -42) & (z < -12 + 0.2 * (y + 45)) & (np.abs(x) < 55)
    brainstem = (np.abs(x) < 15) & (y > -45) & (y < -8) & (z < -10)
    out[np.isin(out, (CORTEX, WHITE_MATTER, DEEP_GM)) & (posterior_fossa | brainstem)] = CEREBELLUM_BRAINSTEM
    icv_ml = float((out > 0).sum()) * sp**3 / 1000.0
    weeks = np.array(sorted(ICV_ML_BY_WEEK))
    target = float(np.interp(pma, weeks, [ICV_ML_BY_WEEK[w] for w in weeks])) * rng.uniform(0.9, 1.1)
    scale = (target / icv_ml) ** (1.0 / 3.0)  # infant mm per adult mm
    head = ndi.binary_fill_holes(out > 0)
    outside = ndi.distance_transform_edt(~head, sampling=sp) * scale  # infant mm
    rim = rng.uniform(1.0, 3.0)
    out[(outside > 0) & (outside <= rim)] = CSF
    out[(outside > rim) & (outside <= rim + _SKULL_MM)] = BACKGROUND
    nz = np.argwhere(out > 0)
    lo, hi = nz.min(axis=0), nz.max(axis=0) + 1
    pad = np.ceil(0.08 * (hi - lo)).astype(int)
    out = np.pad(out, [(int(p), int(p)) for p in pad])[tuple(slice(a, b + 2 * p) for a, b, p in zip(lo, hi, pad))]
    return np.ascontiguousarray(out), float(sp * scale)


def icbm_pair(seed: int, folder: str | Path, pma_weeks: float | None = None) -> AnatomyPair:
    """One training subject from ICBM anatomy, normal and injured (about 2 s on one core).

    Parameters
    ----------
    seed : int
        Fixes the age (U(28, 44) weeks unless ``pma_weeks``), the anatomy's jitter and the injuries.
    folder : path
        The ICBM152 2009c folder (:data:`ICBM_FILES`).

    Returns
    -------
    AnatomyPair
        Render labels; the injured map differs from the normal one exactly inside ``injury_mask``
        (real-anatomy-mode injuries, :func:`model.simulation.real_anatomy.insert_injuries`).

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`icbm_labels`.
    """
    rng = np.random.default_rng([int(seed), 0x1CB])
    pma = float(rng.uniform(28.0, 44.0)) if pma_weeks is None else float(pma_weeks)
    labels, spacing = icbm_labels(folder, pma, rng)
    anatomy = ra.Anatomy(t2=labels.astype(np.float32), labels=labels, affine=np.diag([spacing] * 3 + [1.0]))
    injured = ra.insert_injuries(anatomy, rng)
    pair = label_pair(labels, injured, spacing, pma)
    pair.seed = int(seed)
    return pair
