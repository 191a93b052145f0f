"""The phantom's scanner: voxel grid, head pose, and what the acquisition adds to the image.

The default grid (:data:`DEFAULT_SPACING_MM`, :data:`DEFAULT_SHAPE`, :data:`FIELD_OF_VIEW_MM`) and its
checks (:func:`_grid_geometry`); the random acquisition (:class:`_Acquisition`: rotation, position,
bias field, SNR, intensity scale); the mapping between scanner voxels and the anatomical frame
(:class:`_Frame`); and :func:`_acquire`, which turns the noise-free T2 into the scanner image (blur,
bias field, scale, Rician noise, skull-strip). Imports :mod:`model.simulation.phantom.anatomy` only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from model.simulation.phantom.anatomy import BACKGROUND, _poly_grid, _poly_points, _Subject

#: Default isotropic voxel size (mm) and grid, like a real neonatal template.
DEFAULT_SPACING_MM = 0.86
DEFAULT_SHAPE = (117, 159, 126)
#: Field of view (mm) used when only the spacing is given: the default grid's extent.
FIELD_OF_VIEW_MM = tuple(n * DEFAULT_SPACING_MM for n in DEFAULT_SHAPE)


@dataclass
class _Acquisition:
    rotation: np.ndarray  # (3, 3) anatomical -> scanner
    translation_mm: np.ndarray  # (3,)
    bias: np.ndarray  # (4, 4, 4) Legendre coefficients of log bias
    snr: float  # white matter signal / noise sigma
    scale: float  # arbitrary scanner units


def _draw_acquisition(rng: np.random.Generator) -> _Acquisition:
    angles = np.deg2rad(np.clip(rng.normal(0.0, 2.0, size=3), -5.0, 5.0))
    cx, cy, cz = np.cos(angles)
    sx, sy, sz = np.sin(angles)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    translation = np.clip(rng.normal(0.0, 1.5, size=3), -3.0, 3.0)
    bias = np.zeros((4, 4, 4))
    for a in range(4):
        for b in range(4):
            for c in range(4):
                if 1 <= a + b + c <= 3:
                    bias[a, b, c] = rng.normal(0.0, 1.0 / (a + b + c))
    bias *= float(rng.uniform(0.10, 0.20)) / (np.abs(bias).sum() / 2.0 + 1e-12)
    return _Acquisition(
        rotation=rz @ ry @ rx,
        translation_mm=translation,
        bias=bias,
        snr=float(rng.uniform(18.0, 40.0)),
        scale=float(rng.uniform(200.0, 1500.0)),
    )


class _Frame:
    """Mapping between the scanner grid and the anatomical frame of one phantom.

    ``q = A (p - t - D(p))`` with ``p`` world mm, ``D`` the individual deformation (mm), ``t`` the
    head position and ``A = diag(1 / (size * axis_scale)) R^T``; ``q`` is in term-sized mm.
    """

    def __init__(self, shape, affine, subj: _Subject, acq: _Acquisition):
        self.shape = tuple(shape)
        self.affine = affine
        self.deform = subj.deform
        self.size = subj.size
        self.scale_mm = subj.size * subj.axis_scale  # (3,) anatomical -> world stretch
        self.A = np.diag(1.0 / self.scale_mm) @ acq.rotation.T
        self.A_inv = np.linalg.inv(self.A)
        # brainstem hangs below the cerebrum: put the cerebral centre a little above the origin
        self.t = acq.translation_mm + acq.rotation @ (self.scale_mm * np.array([0.0, 0.0, 4.0]))
        self.axes_mm = [affine[k, 3] + affine[k, k] * np.arange(shape[k]) for k in range(3)]

    def grid(self) -> tuple:
        """q coordinates of every voxel: three float32 arrays of shape (X, Y, Z)."""
        px, py, pz = self.axes_mm
        comps = []
        for k, p in enumerate((px, py, pz)):
            d = _poly_grid(self.deform[k], px, py, pz)
            bshape = [1, 1, 1]
            bshape[k] = -1
            d -= (p - self.t[k]).astype(np.float32).reshape(bshape)
            d *= -1.0
            comps.append(d)
        q = []
        for i in range(3):
            acc = comps[0] * np.float32(self.A[i, 0])
            acc += comps[1] * np.float32(self.A[i, 1])
            acc += comps[2] * np.float32(self.A[i, 2])
            q.append(acc)
        return tuple(q)

    def to_world(self, q: np.ndarray) -> np.ndarray:
        """Approximate inverse: anatomical points (N, 3) -> world mm (N, 3) (fixed-point, ~0.1 mm)."""
        base = self.t + q @ self.A_inv.T
        p = base.copy()
        for _ in range(3):
            p = base + np.stack([_poly_points(self.deform[k], p) for k in range(3)], axis=1)
        return p

    def box(self, lo, hi, margin_mm: float = 3.0):
        """Voxel slices covering the anatomical box [lo, hi] (plus a margin); None if outside the grid."""
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        world = self.to_world(corners)
        spacing = np.abs(np.diag(self.affine)[:3])
        idx = (world - self.affine[:3, 3]) / np.diag(self.affine)[:3]
        first = np.floor(idx.min(axis=0) - margin_mm / spacing).astype(int)
        last = np.ceil(idx.max(axis=0) + margin_mm / spacing).astype(int)
        first = np.maximum(first, 0)
        last = np.minimum(last, np.array(self.shape) - 1)
        if np.any(last < first):
            return None
        return tuple(slice(int(a), int(b) + 1) for a, b in zip(first, last))


def _grid_geometry(spacing_mm, shape) -> tuple:
    spacing = np.broadcast_to(np.asarray(spacing_mm, dtype=float), (3,)).copy()
    if not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise ValueError(f"spacing_mm must be positive, got {spacing_mm!r}")
    if shape is None:
        shape = tuple(max(8, int(round(f / s))) for f, s in zip(FIELD_OF_VIEW_MM, spacing))
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 8:
        raise ValueError(f"shape must be three sizes of at least 8 voxels, got {shape!r}")
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = -spacing * (np.array(shape) - 1) / 2.0
    return spacing, shape, affine


def _acquire(intensity, labels, frame: _Frame, acq: _Acquisition, subj: _Subject, rng) -> np.ndarray:
    """Point-spread blur, bias field, intensity scale, Rician noise, skull-strip: T2 float32."""
    brain = (labels != 0) & (labels != BACKGROUND)
    # blur as if the CSF continued outwards, so that skull-stripping leaves a bright rim
    filled = np.where(brain, intensity, np.float32(subj.t2["csf"]))
    img = ndimage.gaussian_filter(filled, 0.5, truncate=3.0)
    del filled
    img *= np.exp(_poly_grid(acq.bias, *frame.axes_mm))
    sigma = np.float32(subj.t2["wm"] / acq.snr)
    n1 = rng.standard_normal(img.shape, dtype=np.float32)
    n1 *= sigma
    img += n1
    np.square(img, out=img)
    rng.standard_normal(img.shape, dtype=np.float32, out=n1)
    n1 *= sigma
    np.square(n1, out=n1)
    img += n1
    np.sqrt(img, out=img)
    img *= np.float32(acq.scale)
    img[~brain] = 0.0
    return img
