"""The phantom as returned and saved: :class:`Phantom`, :func:`make_phantom`, NIfTI files, the sample.

:func:`make_phantom` draws the infant, the acquisition and the injuries from independent random
streams, draws the tissue maps and acquires the image; :func:`to_nifti` stores a phantom in any
voxel order (:func:`reorient_for_disk`); :func:`sample_image` is the app's built-in sample. Imports
the other submodules; none of them imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nibabel as nib
import numpy as np
from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, ornt_transform

from model.simulation.phantom.anatomy import PMA_LIMITS_WEEKS, _draw_subject
from model.simulation.phantom.injuries import _draw_injury, _Injury
from model.simulation.phantom.scanner import DEFAULT_SPACING_MM, _acquire, _draw_acquisition, _Frame, _grid_geometry
from model.simulation.phantom.tissue_maps import _draw_anatomy

#: On-disk voxel order of the built-in sample (as in dHCP-style templates).
SAMPLE_ORIENTATION = "LAS"


@dataclass
class Phantom:
    """One simulated neonatal T2 brain on a RAS+ voxel grid.

    Attributes
    ----------
    t2 : np.ndarray, shape (X, Y, Z), float32
        T2-weighted intensities in arbitrary scanner units, skull-stripped (0 outside the brain).
        Axis 0 increases to patient Right, 1 to Anterior, 2 to Superior.
    labels : np.ndarray, shape (X, Y, Z), uint8
        Tissue classes, codes as in :data:`LABEL_NAMES` (dHCP / Draw-EM). Cysts are labelled CSF,
        punctate lesions keep the white matter label.
    injury_mask : np.ndarray, shape (X, Y, Z), bool
        True where an injury was drawn (ventricle excess over the natural size, cysts, punctate
        lesions, tissue lost to white matter volume loss); all False for a normal phantom.
    affine : np.ndarray, shape (4, 4), float64
        Voxel index -> world position (mm, RAS+); world origin at the grid centre, near the brain
        centre.
    injured : bool
    pma_weeks : float
        Postmenstrual age at scan, weeks.
    findings : dict
        ``ventricular_dilatation`` (pathological factor on the ventricle radius, including the ex
        vacuo part of white matter loss; 1.0 when absent), ``cysts`` and
        ``punctate_lesions`` (counts drawn), ``wm_loss`` (fraction of the cerebral white matter
        thickness lost, 0.0 when absent).
    seed : int
        The seed it was made from.
    """

    t2: np.ndarray
    labels: np.ndarray
    injury_mask: np.ndarray
    affine: np.ndarray
    injured: bool
    pma_weeks: float
    findings: dict = field(default_factory=dict)
    seed: int = 0

    @property
    def spacing_mm(self) -> np.ndarray:
        """Voxel size along X, Y, Z in mm, shape (3,)."""
        return np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0))

    @property
    def shape(self) -> tuple:
        """(X, Y, Z) shape of the arrays."""
        return tuple(self.t2.shape)


# --------------------------------------------------------------------------------------------------
# The phantom
# --------------------------------------------------------------------------------------------------
def make_phantom(
    seed: int,
    injured: bool,
    pma_weeks: float | None = None,
    spacing_mm: float | tuple = DEFAULT_SPACING_MM,
    shape: tuple | None = None,
    acquisition_seed: int | None = None,
) -> Phantom:
    """Simulate one skull-stripped neonatal T2 brain, normal or injured.

    The seed fixes the infant (anatomy, PMA), the acquisition (pose, bias, noise, intensity scale)
    and, when ``injured``, the injuries, through independent random streams: the normal and the
    injured phantom of one seed show the same infant, the injured one with lesions added.

    Parameters
    ----------
    seed : int
        Non-negative; same arguments give byte-identical arrays.
    injured : bool
        Draw a non-empty random subset of injuries (see :mod:`model.simulation.phantom`).
    pma_weeks : float, optional
        Postmenstrual age, weeks (24-46 accepted); drawn uniformly from 28-44 when None.
    spacing_mm : float or tuple of 3 floats
        Voxel size, mm.
    shape : tuple of 3 int, optional
        Grid size; by default the field of view of :data:`DEFAULT_SHAPE` at 0.86 mm
        (:data:`FIELD_OF_VIEW_MM`, about 101 x 137 x 108 mm), which holds a 44-week brain.
    acquisition_seed : int, optional
        Seed for pose, bias, noise and scale only (a repeat scan of the same infant); defaults to
        a stream of ``seed``.

    Returns
    -------
    Phantom
        ``t2`` float32 (X, Y, Z) RAS+, ``labels`` uint8, ``injury_mask`` bool, ``affine`` (4, 4).

    Raises
    ------
    ValueError
        Negative seed, PMA outside 24-46 weeks, non-positive spacing, a grid under 8 voxels.
    """
    if int(seed) < 0 or (acquisition_seed is not None and int(acquisition_seed) < 0):
        raise ValueError(f"seeds must be non-negative integers, got {seed!r}, {acquisition_seed!r}")
    if pma_weeks is not None and not (PMA_LIMITS_WEEKS[0] <= float(pma_weeks) <= PMA_LIMITS_WEEKS[1]):
        raise ValueError(f"pma_weeks must be within {PMA_LIMITS_WEEKS} weeks, got {pma_weeks!r}")
    spacing, shape, affine = _grid_geometry(spacing_mm, shape)
    anat_ss, injury_ss, acq_ss = np.random.SeedSequence(int(seed)).spawn(3)
    if acquisition_seed is not None:
        acq_ss = np.random.SeedSequence((int(acquisition_seed), 0xA5))
    subj = _draw_subject(np.random.default_rng(anat_ss), pma_weeks)
    acq = _draw_acquisition(np.random.default_rng(acq_ss))
    frame = _Frame(shape, affine, subj, acq)
    injury_rng = np.random.default_rng(injury_ss)
    for _attempt in range(8):  # a lone lesion can miss the white matter: then draw the injury again
        inj = _draw_injury(injury_rng, subj) if injured else _Injury()
        labels, intensity, injury_mask, findings = _draw_anatomy(frame, subj, inj, spacing)
        if not injured or injury_mask.any():
            break
    t2 = _acquire(intensity, labels, frame, acq, subj, np.random.default_rng(acq_ss.spawn(1)[0]))
    return Phantom(
        t2=t2,
        labels=labels,
        injury_mask=injury_mask,
        affine=affine,
        injured=bool(injured),
        pma_weeks=round(subj.pma, 3),
        findings=findings,
        seed=int(seed),
    )


# --------------------------------------------------------------------------------------------------
# NIfTI output
# --------------------------------------------------------------------------------------------------
_RAS = axcodes2ornt(("R", "A", "S"))


def _parse_orientation(orientation: str) -> tuple:
    codes = tuple(str(orientation).upper())
    try:
        ornt = axcodes2ornt(codes)
    except ValueError as exc:
        raise ValueError(f"orientation {orientation!r} is not three axis codes like 'LAS'") from exc
    if len(codes) != 3 or np.isnan(ornt).any() or len(set(ornt[:, 0])) != 3:
        raise ValueError(f"orientation {orientation!r} must name each of the three axes once (e.g. 'LAS', 'PSR')")
    return codes


def reorient_for_disk(array: np.ndarray, affine: np.ndarray, orientation: str) -> tuple:
    """Put a RAS+ array into the voxel order ``orientation`` with the matching affine.

    Parameters
    ----------
    array : np.ndarray, shape (X, Y, Z)
        On a RAS+ grid described by ``affine``.
    affine : np.ndarray, shape (4, 4)
    orientation : str
        Axis codes of the on-disk axes, e.g. ``"LAS"``, ``"LPS"``, ``"PSR"``.

    Returns
    -------
    data : np.ndarray
        Permuted/flipped copy (no interpolation).
    disk_affine : np.ndarray, shape (4, 4)
        Voxel -> world (mm, RAS+) for ``data``: the same world positions as before.
    """
    codes = _parse_orientation(orientation)
    ornt = ornt_transform(_RAS, axcodes2ornt(codes))
    data = np.ascontiguousarray(apply_orientation(array, ornt))
    disk_affine = affine @ inv_ornt_aff(ornt, array.shape)
    return data, disk_affine


def to_nifti(ph: Phantom, orientation: str = "RAS", dtype=np.float32, what: str = "t2") -> nib.Nifti1Image:
    """A NIfTI-1 image of the phantom stored in the voxel order ``orientation``.

    ``nibabel.as_closest_canonical`` of the result gives back ``ph.t2`` (or the array chosen by
    ``what``) and ``ph.affine`` exactly. qform and sform are both set (code 1, scanner).

    Parameters
    ----------
    ph : Phantom
    orientation : str
        On-disk axis codes, e.g. ``"RAS"``, ``"LAS"``, ``"LPS"``, ``"PSR"``, ``"ASL"``.
    dtype : numpy dtype
        Data type of ``t2``: float32 (default, exact) or int16 with ``scl_slope`` (quantised to
        ``max / 32000``, zero stays zero, like many scanners' files). The int16 image is built
        through its own bytes so that its data in memory are scaled as a loaded file's are;
        ``nibabel.save`` of it may choose a new slope and intercept.
    what : {"t2", "labels", "injury_mask"}
        Which array to store; label and mask images are stored as uint8.

    Raises
    ------
    ValueError
        Unknown orientation, dtype or ``what``.
    """
    arrays = {"t2": ph.t2, "labels": ph.labels, "injury_mask": ph.injury_mask}
    if what not in arrays:
        raise ValueError(f"what must be one of {sorted(arrays)}, got {what!r}")
    data, disk_affine = reorient_for_disk(arrays[what], ph.affine, orientation)
    if what != "t2":
        img = nib.Nifti1Image(data.astype(np.uint8), disk_affine)
        img.set_data_dtype(np.uint8)
    else:
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.int16)):
            raise ValueError(f"dtype must be float32 or int16, got {dtype}")
        slope = None
        if dtype == np.dtype(np.int16):  # scanner-like storage: integers times scl_slope
            slope = float(np.float32(max(float(data.max()), 1e-6) / 32000.0))  # as stored (float32)
            data = np.round(data.astype(np.float64) / slope).astype(np.int16)
        img = nib.Nifti1Image(data.astype(dtype, copy=False), disk_affine)
        img.header["descrip"] = f"simulated neonatal T2 phantom, PMA {ph.pma_weeks:.1f} w"[:79].encode()
        if slope is not None:
            img.header.set_slope_inter(slope, 0.0)
    img.set_qform(disk_affine, code=1)
    img.set_sform(disk_affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    if what == "t2" and np.dtype(dtype) == np.dtype(np.int16):
        # through bytes, so that the in-memory image applies scl_slope exactly as a loaded file does
        img = nib.Nifti1Image.from_bytes(img.to_bytes())
    return img


def sample_image(seed: int = 7, injured: bool = False) -> nib.Nifti1Image:
    """The app's built-in sample: a term (40-week) phantom, LAS on disk, float32, 0.86 mm.

    Deterministic for a given seed. It is simulated (see :mod:`model.simulation.phantom`), not a real scan.
    """
    return to_nifti(make_phantom(seed, injured, pma_weeks=40.0), SAMPLE_ORIENTATION, np.float32)
