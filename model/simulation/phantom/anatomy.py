"""The phantom's anatomy: tissue codes, the term-sized neonatal brain and one infant's draw of it.

Everything here lives in the anatomical frame (term-sized mm, RAS+, origin at the centre of the
cerebral ellipsoid): the tissue label codes (:data:`LABEL_NAMES`), the shapes of the term anatomy
(cerebrum, core, cerebellum, brainstem, ventricles, deep nuclei), brain size by PMA, the random draw
of one infant (:class:`_Subject`: size, shape, deformation, ventricle size, folding fields, tissue
T2) and the geometry helpers with which the other submodules draw it (Legendre polynomial fields,
ellipsoid depth, the C-shaped lateral ventricle). Imports no other part of the phantom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# --------------------------------------------------------------------------------------------------
# Public constants
# --------------------------------------------------------------------------------------------------
#: Tissue label codes (dHCP / Draw-EM tissue classes); 0 is outside the head.
CSF, CORTEX, WHITE_MATTER, BACKGROUND, VENTRICLES, CEREBELLUM_BRAINSTEM, DEEP_GM = 1, 2, 3, 4, 5, 6, 7
#: Names of the label codes in :attr:`Phantom.labels`. 4 ("background") is the non-brain shell
#: inside the head (skull and scalp), which is zero in the skull-stripped T2 like label 0.
LABEL_NAMES = {
    0: "outside head",
    CSF: "CSF",
    CORTEX: "cortical grey matter",
    WHITE_MATTER: "white matter",
    BACKGROUND: "background (non-brain inside the head)",
    VENTRICLES: "ventricles",
    CEREBELLUM_BRAINSTEM: "cerebellum + brainstem",
    DEEP_GM: "deep grey matter",
}
#: PMA range (weeks) drawn when ``pma_weeks`` is None, and the range accepted.
PMA_RANGE_WEEKS = (28.0, 44.0)
PMA_LIMITS_WEEKS = (24.0, 46.0)

# --------------------------------------------------------------------------------------------------
# Term-sized anatomy (mm, anatomical RAS+ frame, origin at the centre of the cerebral ellipsoid)
# --------------------------------------------------------------------------------------------------
_CEREBRUM_AXES = (40.0, 56.5, 40.0, 33.0)  # half-axes x, y, z-superior, z-inferior
_FRONTAL_TAPER = 0.10  # the hemispheres narrow by this fraction towards the frontal pole
_CORE = (-3.0, -3.0, 33.0, 19.0)  # (y, z, ay, az): sagittal ellipse joining the hemispheres (CC, diencephalon)
_CEREBELLUM = ((0.0, -35.0, -25.0), (26.0, 18.0, 14.0))
_BASAL_NOTCH = ((0.0, 6.0, -36.0), (8.0, 15.0, 10.0))  # basal cisterns between the temporal lobes
_BRAINSTEM_Z = np.array([-4.0, -18.0, -30.0, -44.0, -62.0])  # centreline samples (z) ...
_BRAINSTEM_Y = np.array([-12.0, -13.0, -12.0, -18.0, -21.0])  # ... its y, and its half-widths
_BRAINSTEM_R = np.array([8.0, 7.5, 9.5, 6.5, 6.0])
_BRAINSTEM_TOP_Z, _BRAINSTEM_CUT_Z = -4.0, -50.0
_THIRD_VENTRICLE = ((0.0, -9.0, -3.0), (1.0, 11.0, 7.0))
_FOURTH_VENTRICLE = ((0.0, -22.0, -30.0), (3.5, 2.5, 5.0))
#: Deep grey matter: (centre with +x for the right side, half-axes, T2 at 28 weeks, T2 at 44 weeks).
_DEEP_NUCLEI = (
    ((8.0, -10.0, -1.0), (10.3, 17.5, 11.8), 0.44, 0.36),  # thalamus
    ((19.5, 2.0, -4.0), (7.4, 17.5, 11.8), 0.46, 0.38),  # lentiform nucleus
    ((11.5, 12.0, 5.0), (5.7, 11.8, 9.6), 0.48, 0.44),  # caudate head
)
# Deep grey matter and ventricles are sized to the Serag templates' volume fractions (deep grey
# matter 6.9-8.0 % of the brain with CSF, ventricles 1.8-2.6 %; 28-44 weeks): the nuclei's half-axes
# and the ventricle tube radii (_VENT_RADIUS_GAIN) are 1.43 and 1.4 x those of the first phantom,
# which had 2.4 % and 1.1 %. Measured without CSF in the denominator (tissue-labels 2,3,5-9;
# phantoms at 1.2 mm, seeds 100-102): deep grey matter Serag 9.3/9.7/8.9/8.6/8.7 % at
# 28/32/36/40/44 weeks, phantom 9.1/9.1/8.8/8.5/8.3 %; ventricles Serag 3.2/2.9/2.4/2.2/2.5 %,
# phantom 2.8/2.6/2.4/2.2/2.1 %.
#: Lateral ventricle as a tube around a C-shaped centreline in the sagittal plane, centred at
#: (y, z) = _VENT_CENTRE. Columns: angle (deg, 0 = anterior, 90 = superior), centreline radius R,
#: lateral offset of the centreline |x|, tube radius r (<= 0: no ventricle), lateral stretch kx.
_VENT_CENTRE = (-6.0, -2.0)
_VENT_RADIUS_GAIN = 1.4
_VENT_TABLE = np.array(
    [
        [0.0, 28.0, 6.5, -1.5, 1.3],
        [18.0, 27.0, 6.5, 1.2, 1.3],  # frontal horn tip
        [35.0, 20.0, 6.5, 2.4, 1.3],  # frontal horn
        [60.0, 14.5, 7.5, 2.2, 1.4],
        [90.0, 12.0, 8.5, 2.0, 1.4],  # body
        [125.0, 15.0, 12.0, 2.8, 1.3],
        [155.0, 21.0, 15.0, 3.8, 1.2],  # atrium
        [175.0, 27.0, 15.0, 3.0, 1.1],  # occipital horn
        [195.0, 21.0, 17.5, 2.4, 1.2],
        [230.0, 15.0, 21.0, 1.9, 1.4],  # temporal horn
        [265.0, 14.0, 22.0, 1.6, 1.4],
        [290.0, 15.5, 22.0, 0.8, 1.3],
        [305.0, 16.0, 22.0, -1.5, 1.3],
    ]
)
_POLY_SCALE_MM = 60.0  # Legendre polynomials (deformation, bias) are evaluated at p / this
_NOISE_STEP_MM = 1.25  # grid step of the folding fields (anatomical frame)
_NOISE_HALF_MM = (48.0, 64.0, 48.0)  # half-extent of that grid
_HEAD_SHELL_MM = 4.0  # skull + scalp thickness (label 4)
_FOLD_SIGMA_MM = (5.5, 3.0)  # smoothing of the primary and secondary folding fields (term mm)
_PLIC = ((14.0, -5.0, -3.0), (2.2, 9.0, 6.0))  # posterior limb of the internal capsule (dark at term)


# --------------------------------------------------------------------------------------------------
# Random parameters of one infant
# --------------------------------------------------------------------------------------------------
@dataclass
class _Subject:
    """Anatomy of one infant (drawn from the anatomy stream; shared by its normal/injured variants)."""

    pma: float
    size: float  # linear scale of the anatomical frame relative to term
    axis_scale: np.ndarray  # (3,) individual head shape
    deform: np.ndarray  # (3, 4, 4, 4) Legendre coefficients of the displacement, mm
    vent_scale: tuple  # natural ventricle tube-radius factor (left, right)
    rim_mm: float
    fissure_mm: float
    cortex_mm: float
    folding: np.ndarray  # smooth unit-variance field on the folding grid (anatomical frame)
    folding_grad: np.ndarray  # |gradient| of that field, 1 / term mm
    folding_len: float  # its typical correlation length, term mm
    depth_mod: np.ndarray  # smooth field modulating sulcal depth
    t2: dict  # tissue intensities before bias and scale


#: Linear size of the brain by PMA (weeks -> factor on the term anatomy's mm), the cube root of the
#: brain volume (tissue + CSF) of the Serag et al. 2012 templates relative to 40 weeks, measured
#: with their tissue labels (161, 224, 331, 440 and 505 ml at 28, 32, 36, 40 and 44 weeks; 39-41
#: averaged). Summary statistics only: the phantom's range, never training data.
_SIZE_BY_PMA = ((28.0, 32.0, 36.0, 40.0, 44.0), (0.715, 0.798, 0.910, 1.0, 1.047))


def _growth(pma: float) -> float:
    """0 at 28 weeks, 1 at 44 weeks (clipped outside)."""
    return float(np.clip((pma - 28.0) / 16.0, 0.0, 1.0))


def _smooth_field(rng: np.random.Generator, shape: tuple, sigma_vox: float) -> np.ndarray:
    """Gaussian-filtered white noise, zero mean, unit standard deviation, float32."""
    noise = rng.standard_normal(shape, dtype=np.float32)
    out = ndimage.gaussian_filter(noise, sigma_vox, mode="wrap")
    out -= out.mean()
    out /= out.std() + 1e-12
    return out


def _draw_subject(rng: np.random.Generator, pma_weeks: float | None) -> _Subject:
    drawn_pma = float(rng.uniform(*PMA_RANGE_WEEKS))  # drawn always: the stream stays aligned
    pma = drawn_pma if pma_weeks is None else float(pma_weeks)
    g = _growth(pma)
    size = float(np.interp(pma, *_SIZE_BY_PMA)) * float(rng.uniform(0.95, 1.05))
    axis_scale = rng.uniform(0.95, 1.05, size=3)
    deform = np.zeros((3, 4, 4, 4))
    for a in range(4):
        for b in range(4):
            for c in range(4):
                if 2 <= a + b + c <= 3:
                    deform[:, a, b, c] = rng.normal(0.0, 0.9 if a + b + c == 2 else 0.5, size=3)
    v = float(rng.uniform(0.8, 1.2)) * (1.0 + 0.15 * (1.0 - g))  # preterm ventricles are roomier
    asym = float(rng.uniform(-0.08, 0.08))
    grid_shape = tuple(int(round(2 * h / _NOISE_STEP_MM)) + 1 for h in _NOISE_HALF_MM)
    coarse = _smooth_field(rng, grid_shape, _FOLD_SIGMA_MM[0] / _NOISE_STEP_MM)
    fine = _smooth_field(rng, grid_shape, _FOLD_SIGMA_MM[1] / _NOISE_STEP_MM)
    mod = _smooth_field(rng, grid_shape, 8.0 / _NOISE_STEP_MM)
    # Primary sulci (coarse field) first, secondary and tertiary folds (fine field) from ~31 weeks.
    w_fine = float(np.clip((pma - 31.0) / 12.0, 0.0, 1.0))
    folding = (coarse + w_fine * fine) / math.sqrt(1.0 + w_fine**2)
    s_coarse, s_fine = _FOLD_SIGMA_MM
    folding_len = 1.0 / math.sqrt((1.0 / s_coarse**2 + w_fine**2 / s_fine**2) / (1.0 + w_fine**2))
    jitter = rng.uniform(0.95, 1.05, size=4)
    t2 = {
        "csf": 1.0,
        "wm": (0.76 - 0.12 * g) * jitter[0],
        "gm": 0.41 * jitter[1],
        "cerebellum": (0.56 - 0.08 * g) * jitter[2],
        "brainstem": (0.52 - 0.12 * g) * jitter[3],
        "deep": [lo + (hi - lo) * g for _c, _a, lo, hi in _DEEP_NUCLEI],
    }
    return _Subject(
        pma=pma,
        size=size,
        axis_scale=axis_scale,
        deform=deform,
        vent_scale=(v * (1.0 + asym), v * (1.0 - asym)),
        rim_mm=float(rng.uniform(1.6, 2.6)) + 0.3 * (1.0 - g),
        fissure_mm=float(rng.uniform(0.9, 1.4)) + 0.6 * (1.0 - g),
        cortex_mm=float(rng.uniform(1.5, 1.9)) + 0.2 * g,
        folding=folding.astype(np.float32),
        folding_grad=np.sqrt(sum(gr**2 for gr in np.gradient(folding, _NOISE_STEP_MM))).astype(np.float32),
        folding_len=folding_len,
        depth_mod=mod,
        t2=t2,
    )


def _vent_params(theta_deg: np.ndarray) -> tuple:
    """Ventricle centreline radius, lateral offset, tube radius and stretch at angles (degrees)."""
    t = _VENT_TABLE
    cols = [np.interp(theta_deg, t[:, 0], t[:, k], period=360.0).astype(np.float32) for k in range(1, 5)]
    return tuple(cols)


# --------------------------------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------------------------------
def _legendre(u: np.ndarray) -> np.ndarray:
    """Legendre polynomials P0..P3 at ``u``, shape (4, *u.shape)."""
    u = np.asarray(u, dtype=np.float64)
    return np.stack([np.ones_like(u), u, 0.5 * (3 * u**2 - 1), 0.5 * (5 * u**3 - 3 * u)])


def _poly_grid(coeffs: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> np.ndarray:
    """Tensor-product Legendre polynomial on the grid px x py x pz (mm), shape (X, Y, Z), float32."""
    lx, ly, lz = (_legendre(p / _POLY_SCALE_MM) for p in (px, py, pz))
    t = np.einsum("abc,cz->abz", coeffs, lz)
    u = np.einsum("abz,by->ayz", t, ly).astype(np.float32)
    return np.tensordot(lx.astype(np.float32), u, axes=(0, 0))


def _poly_points(coeffs: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The same polynomial at points (N, 3) mm, shape (N,)."""
    lx, ly, lz = (_legendre(points[:, k] / _POLY_SCALE_MM) for k in range(3))
    return np.einsum("abc,an,bn,cn->n", coeffs, lx, ly, lz)


def _ellipsoid_depth(x, y, z, ax, ay, az):
    """Approximate signed distance to an ellipsoid surface (positive inside), in the axes' units.

    ``(1 - r) / (|grad r|)`` with ``r`` the normalised radius: exact for a sphere and to first
    order at any ellipsoid surface.
    """
    u, v, w = x / ax, y / ay, z / az
    r = np.sqrt(u * u + v * v + w * w)
    grad = np.sqrt((u / ax) ** 2 + (v / ay) ** 2 + (w / az) ** 2)
    amax = float(np.max([np.max(ax), np.max(ay), np.max(az)]))
    return (1.0 - r) / np.maximum(grad / np.maximum(r, 1e-6), 1.0 / amax)


def _ventricle_distance(qx, qy, qz, radius_scale: tuple) -> np.ndarray:
    """Signed distance-like field of the lateral ventricles (negative inside), anatomical mm.

    ``radius_scale`` = (left, right) factors on the tube radius; the atrium and occipital horn
    dilate 25 % more than the rest when the factor exceeds 1 (posterior predominance).
    """
    yc, zc = _VENT_CENTRE
    dy, dz = qy - yc, qz - zc
    rho = np.sqrt(dy * dy + dz * dz)
    theta = np.degrees(np.arctan2(dz, dy)) % 360.0
    R, xv, r, kx = _vent_params(theta)
    scale = np.where(qx < 0, np.float32(radius_scale[0]), np.float32(radius_scale[1]))
    posterior = np.clip(1.0 - np.abs(theta - 165.0) / 45.0, 0.0, 1.0)
    scale = scale * (1.0 + 0.25 * posterior * np.maximum(scale - 1.0, 0.0))
    r_eff = np.where(r > 0, r * scale * np.float32(_VENT_RADIUS_GAIN), r)
    return np.sqrt(((np.abs(qx) - xv) / kx) ** 2 + (rho - R) ** 2) - r_eff


def _cerebrum_axes(qy: np.ndarray, qz: np.ndarray) -> tuple:
    """Half-axes (x, z) of the cerebral ellipsoid at each point: narrower frontally, flatter below,
    the occipital lobes reaching lower than the frontal lobes."""
    ax, ay, az_sup, az_inf = _CEREBRUM_AXES
    frac = np.clip(qy * np.float32(1.0 / ay), -1.0, 1.0)
    ax_eff = np.float32(ax) * (1.0 - np.float32(_FRONTAL_TAPER) * np.maximum(frac, 0.0))
    az_low = np.float32(az_inf) * (1.0 + np.float32(0.12) * np.maximum(-frac, 0.0))
    return ax_eff, np.where(qz > 0, np.float32(az_sup), az_low)


def _vent_box(scale: float) -> tuple:
    """Anatomical bounding box of the lateral ventricles for a tube-radius factor."""
    t = _VENT_TABLE
    gain = scale * _VENT_RADIUS_GAIN * 1.3
    rmax = float(t[:, 3].max()) * gain + 1.0
    xmax = float((t[:, 2] + t[:, 4] * t[:, 3].clip(0) * gain).max()) + 1.0
    reach = float(t[:, 1].max()) + rmax
    yc, zc = _VENT_CENTRE
    return (-xmax, yc - reach, zc - reach), (xmax, yc + reach, zc + reach)


def _ellipsoid_box(centre, axes, pad=0.0):
    c, a = np.asarray(centre), np.asarray(axes) + pad
    return c - a, c + a
