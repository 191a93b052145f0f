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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import nibabel as nib
import numpy as np
from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, ornt_transform
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
#: Default isotropic voxel size (mm) and grid, like a real neonatal template.
DEFAULT_SPACING_MM = 0.86
DEFAULT_SHAPE = (117, 159, 126)
#: Field of view (mm) used when only the spacing is given: the default grid's extent.
FIELD_OF_VIEW_MM = tuple(n * DEFAULT_SPACING_MM for n in DEFAULT_SHAPE)
#: PMA range (weeks) drawn when ``pma_weeks`` is None, and the range accepted.
PMA_RANGE_WEEKS = (28.0, 44.0)
PMA_LIMITS_WEEKS = (24.0, 46.0)
#: Keys of :attr:`Phantom.findings` (all present for every phantom; 1.0 / 0 / 0.0 when absent).
FINDING_KEYS = ("ventricular_dilatation", "cysts", "punctate_lesions", "wm_loss")
#: Fraction of injured phantoms that carry a single, subtle finding (:func:`_draw_injury`).
SUBTLE_FRACTION = 1.0 / 3.0
#: Severity ranges of a subtle finding: ventricle radius factor, white matter loss fraction,
#: cyst and punctate lesion radii (mm; a punctate lesion stays at least 3 mm across, the smallest
#: a clinical T2 shows). The full ranges are 1.4-2.5, 0.08-0.35, 1-3 mm and 1.5-2.5 mm.
SUBTLE_RANGES = {
    "ventricular_dilatation": (1.25, 1.5),
    "wm_loss": (0.04, 0.12),
    "cyst_radius_mm": (1.0, 2.0),
    "punctate_radius_mm": (1.5, 2.0),
}
#: On-disk voxel order of the built-in sample (as in dHCP-style templates).
SAMPLE_ORIENTATION = "LAS"

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
# Random parameters
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


@dataclass
class _Injury:
    dilatation: float = 1.0
    wm_loss: float = 0.0
    cysts: list = field(default_factory=list)  # (centre q (3,), radius mm)
    punctate: list = field(default_factory=list)
    subtle: bool = False  # one finding at the mild end of its range (SUBTLE_FRACTION)


@dataclass
class _Acquisition:
    rotation: np.ndarray  # (3, 3) anatomical -> scanner
    translation_mm: np.ndarray  # (3,)
    bias: np.ndarray  # (4, 4, 4) Legendre coefficients of log bias
    snr: float  # white matter signal / noise sigma
    scale: float  # arbitrary scanner units


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


def _vent_params(theta_deg: np.ndarray) -> tuple:
    """Ventricle centreline radius, lateral offset, tube radius and stretch at angles (degrees)."""
    t = _VENT_TABLE
    cols = [np.interp(theta_deg, t[:, 0], t[:, k], period=360.0).astype(np.float32) for k in range(1, 5)]
    return tuple(cols)


def _draw_injury(rng: np.random.Generator, subj: _Subject) -> _Injury:
    """Draw the injuries of one injured infant: which kinds, how severe, where.

    With probability :data:`SUBTLE_FRACTION` the infant carries a single *subtle* finding (one kind
    at the mild end of its range, see :data:`SUBTLE_RANGES`); otherwise each kind is present with
    probability 0.5 (at least one) at the full ranges. Real injury is often a single, subtle
    finding; when every drawn injury is at clinical severity, the renders' injuries are stronger in
    the network's input (median 2.73 SD) than the real-anatomy mode's (1.1-1.9 SD;
    tests/benchmarks/bench_injury_contrast.py). Run synth-v10 on this draw: resources/README.md.
    """
    subtle = bool(rng.random() < SUBTLE_FRACTION)
    if subtle:
        kinds = np.zeros(4, bool)
        kinds[rng.integers(4)] = True
    else:
        kinds = rng.random(4) < 0.5
        if not kinds.any():
            kinds[rng.integers(4)] = True
    inj = _Injury()
    if kinds[0]:  # ventricular dilatation, skewed towards mild
        lo, hi = SUBTLE_RANGES["ventricular_dilatation"] if subtle else (1.4, 2.5)
        inj.dilatation = lo + (hi - lo) * float(rng.beta(1.3, 2.6))
    if kinds[1]:  # white matter volume loss, with some ex vacuo widening of the ventricles
        lo, hi = SUBTLE_RANGES["wm_loss"] if subtle else (0.08, 0.35)
        inj.wm_loss = lo + (hi - lo) * float(rng.beta(1.3, 2.0))
        inj.dilatation *= 1.0 + inj.wm_loss
    yc, zc = _VENT_CENTRE

    def periventricular(n, gap_lo, gap_hi, rho_lo, rho_hi, theta_lo, theta_hi):
        out = []
        for _ in range(n):
            theta = float(rng.uniform(theta_lo, theta_hi))
            side = 1.0 if rng.random() < 0.5 else -1.0
            R, xv, r, kx = (float(v[0]) for v in _vent_params(np.array([theta])))
            vs = subj.vent_scale[1 if side > 0 else 0] * inj.dilatation
            rho = R + float(rng.uniform(rho_lo, rho_hi))
            x = side * (xv + kx * max(r, 0.0) * vs + float(rng.uniform(gap_lo, gap_hi)))
            angle = math.radians(theta)
            out.append(np.array([x, yc + rho * math.cos(angle), zc + rho * math.sin(angle)]))
        return out

    if kinds[2]:  # cystic PVL: 1-8 cysts of 2-6 mm diameter beside the ventricles (subtle: 1-2 of 2-4 mm)
        n = 1 + (int(rng.binomial(1, 0.5)) if subtle else int(rng.binomial(7, 0.35)))
        centres = periventricular(n, 3.0, 8.0, -1.0, 5.0, 45.0, 170.0)
        r_lo, r_hi = SUBTLE_RANGES["cyst_radius_mm"] if subtle else (1.0, 3.0)
        inj.cysts = [(c, float(rng.uniform(r_lo, r_hi))) for c in centres]
    if kinds[3]:  # punctate white matter lesions: 1-15 foci of 3-5 mm (visible on a clinical T2), often clustered
        n = 1 + (int(rng.binomial(3, 0.35)) if subtle else int(rng.binomial(14, 0.35)))  # subtle: 1-4 foci
        centres = periventricular(n, 3.0, 14.0, 0.0, 10.0, 30.0, 170.0)
        r_lo, r_hi = SUBTLE_RANGES["punctate_radius_mm"] if subtle else (1.5, 2.5)
        inj.punctate = [(c, float(rng.uniform(r_lo, r_hi))) for c in centres]
    inj.subtle = subtle
    return inj


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


# --------------------------------------------------------------------------------------------------
# The phantom
# --------------------------------------------------------------------------------------------------
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
        Draw a non-empty random subset of injuries (see the module docstring).
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


def _draw_anatomy(frame: _Frame, subj: _Subject, inj: _Injury, spacing: np.ndarray):
    """Labels, noise-free T2 (before bias/scale), injury mask and findings on the scanner grid."""
    shape = frame.shape
    qx, qy, qz = frame.grid()
    g = _growth(subj.pma)
    to_q = 1.0 / subj.size  # real mm -> anatomical mm
    ay = _CEREBRUM_AXES[1]
    f32 = np.float32

    # --- cerebral surfaces: signed depth below the nearest pial surface (anatomical mm) ---------
    ax_eff, az_eff = _cerebrum_axes(qy, qz)
    d_norm = _ellipsoid_depth(qx, qy, qz, ax_eff, f32(ay), az_eff)
    rim_q = subj.rim_mm * to_q
    d_skull = d_norm + f32(rim_q)
    del ax_eff, az_eff
    d_base = d_norm.copy()
    fw_q = subj.fissure_mm * to_q
    cy, cz, cay, caz = _CORE
    band = frame.box((-12.0, -80.0, -80.0), (12.0, 80.0, 80.0))
    if band is not None:
        x, y, z = qx[band], qy[band], qz[band]
        d_core = _ellipsoid_depth(0.0, y - f32(cy), z - f32(cz), 1.0, f32(cay), f32(caz))
        d_fiss = np.maximum(np.abs(x) - f32(fw_q / 2), 3.0 * d_core)
        np.minimum(d_base[band], d_fiss, out=d_base[band])
        in_core = d_core > 0
        core_depth = d_core
        del d_fiss
    # Sylvian fissure: a lens-shaped cleft down to the insula; wide open at 28 weeks, closing by term
    syl_y0, syl_ly = -5.0, 24.0
    syl_w = 9.0 - 6.5 * float(np.clip((subj.pma - 28.0) / 12.0, 0.0, 1.0))
    x_insula = 31.0 - 4.0 * g
    box = frame.box((-45.0, syl_y0 - syl_ly, -25.0), (45.0, syl_y0 + syl_ly, 20.0))
    if box is not None:
        x, y, z = qx[box], qy[box], qz[box]
        w = f32(syl_w) * (1.0 - ((y - f32(syl_y0)) / f32(syl_ly)) ** 2)
        zs = f32(-4.0) - f32(0.35) * y
        d_syl = np.maximum(np.abs(z - zs) - w / 2, f32(x_insula) - np.abs(x))
        np.minimum(d_base[box], d_syl, out=d_base[box])
        del d_syl, w, zs
    # Tentorium: the occipital lobes rest on the cerebellum with a thin CSF gap
    (cbx, cby, cbz), cb_axes = _CEREBELLUM
    box = frame.box(*_ellipsoid_box(_CEREBELLUM[0], cb_axes, 12.0))
    if box is not None:
        d_cb = _ellipsoid_depth(qx[box] - cbx, qy[box] - cby, qz[box] - cbz, *cb_axes)
        np.minimum(d_base[box], -d_cb - f32(0.8 * to_q), out=d_base[box])
    notch_c, notch_a = _BASAL_NOTCH
    box = frame.box(*_ellipsoid_box(notch_c, notch_a, 8.0))
    if box is not None:
        d_notch = -_ellipsoid_depth(qx[box] - notch_c[0], qy[box] - notch_c[1], qz[box] - notch_c[2], *notch_a)
        np.minimum(d_base[box], d_notch, out=d_base[box])
    loss_q = inj.wm_loss * 15.0  # fraction of ~15 mm of cerebral white matter (term-sized)
    d_base_normal = d_base
    if loss_q > 0:
        d_base = d_base_normal - f32(loss_q)
        if band is not None:  # the corpus callosum thins less than the hemispheres
            d_base[band] += f32(0.75 * loss_q) * in_core

    # --- sulci: radial sheets where the folding field crosses zero, down to a PMA-dependent depth
    thick_q = subj.cortex_mm * to_q
    sulc_depth = 10.0 * float(np.clip((subj.pma - 27.0) / 14.0, 0.0, 1.15))
    sulc_w = (0.7 + 4.0 * inj.wm_loss) * to_q
    d = d_base
    if sulc_depth > 0:
        shell = np.flatnonzero((d_base > -1.0) & (d_base < f32(sulc_depth + thick_q + 1.0)) & (d_skull >= 0))
        x, y, z = (a.reshape(-1)[shell] for a in (qx, qy, qz))
        db = d_base.reshape(-1)[shell]
        ax_s, az_s = _cerebrum_axes(y, z)
        r = np.sqrt((x / ax_s) ** 2 + (y / ay) ** 2 + (z / az_s) ** 2)
        r = np.maximum(r, 1e-3)
        # medial surface: fold pattern constant across the fissure plane
        d_core = _ellipsoid_depth(0.0, y - f32(cy), z - f32(cz), 1.0, f32(cay), f32(caz))
        medial = (np.abs(x) - fw_q / 2) < d_norm.reshape(-1)[shell]
        look = np.stack(
            [np.where(medial, np.sign(x) * 5.0, x / r), np.where(medial, y, y / r), np.where(medial, z, z / r)]
        )
        look = (look + np.array(_NOISE_HALF_MM, dtype=np.float32)[:, None]) / f32(_NOISE_STEP_MM)
        field_n = ndimage.map_coordinates(subj.folding, look, order=1, mode="nearest")
        grad_n = ndimage.map_coordinates(subj.folding_grad, look, order=1, mode="nearest")
        mod = ndimage.map_coordinates(subj.depth_mod, look, order=1, mode="nearest")
        depth = f32(sulc_depth) * (0.7 + 0.4 * np.tanh(1.5 * mod))
        # fewer, shallower folds on the medial surface; none into the corpus callosum
        depth *= np.where(medial, f32(0.6) * (mod > 0.3), f32(1.0)) * ((d_core < 0) | (np.abs(x) > 12.0))
        # distance to the zero sheet, |N| / |grad N| (first order), so that the banks have even
        # width; intersected with the depth limit, with a rounded fundus
        a = np.abs(field_n) / np.maximum(grad_n, f32(0.3 / subj.folding_len)) - f32(sulc_w / 2)
        b = db - depth
        d_sulc = np.where((a > 0) & (b > 0), np.sqrt(a * a + b * b), np.maximum(a, b))
        d = d_base.copy()
        d.reshape(-1)[shell] = np.minimum(db, d_sulc)
        del x, y, z, db, r, look, field_n, grad_n, mod, depth, a, b, d_sulc, shell

    # --- labels ---------------------------------------------------------------------------------
    labels = np.zeros(shape, np.uint8)
    labels[d_skull > f32(-_HEAD_SHELL_MM * to_q)] = BACKGROUND
    intracranial = d_skull >= 0
    del d_skull
    cb_box = frame.box(*_ellipsoid_box(_CEREBELLUM[0], cb_axes, 10.0))
    bs_box = frame.box((-12.0, -35.0, _BRAINSTEM_CUT_Z), (12.0, 2.0, 0.0))
    cerebellum = brainstem = None
    if cb_box is not None:
        d_cb = _ellipsoid_depth(qx[cb_box] - cbx, qy[cb_box] - cby, qz[cb_box] - cbz, *cb_axes)
        head_cb = d_cb > f32(-(subj.rim_mm + 0.8 + _HEAD_SHELL_MM) * to_q)
        labels[cb_box][head_cb & (labels[cb_box] == 0)] = BACKGROUND
        intracranial[cb_box] |= d_cb > f32(-(subj.rim_mm + 0.8) * to_q)
        del head_cb
        # the hemispheres are separated behind and below the vermis by a midline cleft
        x, y, z = qx[cb_box], qy[cb_box], qz[cb_box]
        cleft = (np.abs(x) < f32(1.0 * to_q)) & (y < f32(cby - 0.5 * cb_axes[1])) & (z < f32(cbz + 0.3 * cb_axes[2]))
        cerebellum = (d_cb >= 0) & ~cleft
        del x, y, z, cleft
    if bs_box is not None:
        x, y, z = qx[bs_box], qy[bs_box], qz[bs_box]
        yb = np.interp(z, _BRAINSTEM_Z[::-1], _BRAINSTEM_Y[::-1]).astype(np.float32)
        rb = np.interp(z, _BRAINSTEM_Z[::-1], _BRAINSTEM_R[::-1]).astype(np.float32)
        rr = np.sqrt(x * x + (y - yb) ** 2) - rb
        in_z = (z > f32(_BRAINSTEM_CUT_Z)) & (z < f32(_BRAINSTEM_TOP_Z))
        intracranial[bs_box] |= (rr < f32(1.5 * to_q)) & in_z
        labels[bs_box][(rr < f32((1.5 + _HEAD_SHELL_MM) * to_q)) & in_z & (labels[bs_box] == 0)] = BACKGROUND
        # rounded top where the midbrain meets the diencephalon
        dome = f32(-10.0) + f32(6.0) * np.sqrt(np.clip(1.0 - (x * x + (y - yb) ** 2) / (rb * rb), 0.0, 1.0))
        brainstem = (rr < 0) & in_z & (z < dome)
        del dome
        del x, y, z, yb, rb, rr, in_z
    labels[intracranial] = CSF
    parenchyma = intracranial & (d >= 0)
    labels[parenchyma] = WHITE_MATTER
    labels[parenchyma & (d < f32(thick_q))] = CORTEX
    del parenchyma

    intensity_deep = {}
    dbox = frame.box((-30.0, -30.0, -20.0), (30.0, 28.0, 20.0))
    if dbox is not None:
        x, y, z = qx[dbox], qy[dbox], qz[dbox]
        sub = labels[dbox]
        for k, (centre, axes, _lo, _hi) in enumerate(_DEEP_NUCLEI):
            inside = _ellipsoid_depth(np.abs(x) - f32(centre[0]), y - f32(centre[1]), z - f32(centre[2]), *axes) > 0
            sel = inside & (sub == WHITE_MATTER)
            sub[sel] = DEEP_GM
            intensity_deep[k] = sel
        del x, y, z
    if cb_box is not None:
        labels[cb_box][cerebellum & intracranial[cb_box]] = CEREBELLUM_BRAINSTEM
    if bs_box is not None:
        labels[bs_box][brainstem] = CEREBELLUM_BRAINSTEM
    cc_q = 2.5 * to_q  # corpus callosum thickness
    if band is not None:
        # midline below the corpus callosum: cavum septi pellucidi / third ventricle region is fluid
        sub = labels[band]
        midline = (np.abs(qx[band]) < f32(fw_q / 2)) & (core_depth > f32(cc_q)) & (sub == WHITE_MATTER)
        ry = (qy[band] - f32(cy)) / f32(0.7 * cay)
        rz = (qz[band] - f32(cz + 0.25 * caz)) / f32(0.75 * caz)
        midline &= ry * ry + rz * rz < 1
        del ry, rz
        sub[midline] = CSF
        del midline

    # --- ventricles (natural size, then pathological dilatation) --------------------------------
    injury_mask = np.zeros(shape, bool)
    vscale = subj.vent_scale
    vbox = frame.box(*_vent_box(max(vscale) * inj.dilatation))
    if vbox is not None:
        x, y, z = qx[vbox], qy[vbox], qz[vbox]
        allowed = (d_base_normal[vbox] > f32(1.0 * to_q)) & np.isin(labels[vbox], (WHITE_MATTER, DEEP_GM, CORTEX))
        natural = (_ventricle_distance(x, y, z, vscale) < 0) & allowed
        if inj.dilatation > 1.0:
            scaled = (vscale[0] * inj.dilatation, vscale[1] * inj.dilatation)
            vent = (_ventricle_distance(x, y, z, scaled) < 0) & allowed
            injury_mask[vbox] |= vent & ~natural
        else:
            vent = natural
        labels[vbox][vent] = VENTRICLES
        del x, y, z, allowed, natural, vent
    for (centre, axes), allowed_labels, widen in (
        (_THIRD_VENTRICLE, (WHITE_MATTER, DEEP_GM), inj.dilatation),
        (_FOURTH_VENTRICLE, (CEREBELLUM_BRAINSTEM,), 1.0),
    ):
        axes = (axes[0] * widen, axes[1], axes[2])
        box = frame.box(*_ellipsoid_box(centre, axes, 1.0))
        if box is None:
            continue
        sub = labels[box]
        inside = _ellipsoid_depth(qx[box] - centre[0], qy[box] - centre[1], qz[box] - centre[2], *axes) > 0
        sel = inside & np.isin(sub, allowed_labels)
        if widen > 1.0:
            natural = (
                _ellipsoid_depth(
                    qx[box] - centre[0], qy[box] - centre[1], qz[box] - centre[2], axes[0] / widen, axes[1], axes[2]
                )
                > 0
            )
            injury_mask[box] |= sel & ~natural
        sub[sel] = VENTRICLES

    if loss_q > 0:  # tissue that the normal brain would have, now CSF
        lost = (d_base_normal >= 0) & (d_base < 0) & (labels == CSF)
        injury_mask |= lost

    # --- T2 before bias: tissue look-up, then deep nuclei, posterior fossa, lesions ----------------
    t = subj.t2
    lut = np.array([0.0, t["csf"], t["gm"], t["wm"], 0.0, t["csf"], t["cerebellum"], t["deep"][0]], np.float32)
    intensity = lut[labels]
    if dbox is not None:
        sub = intensity[dbox]
        lab = labels[dbox]
        for k, sel in intensity_deep.items():
            sub[sel & (lab == DEEP_GM)] = f32(t["deep"][k])
        (pcx, pcy, pcz), p_axes = _PLIC
        plic = _ellipsoid_depth(np.abs(qx[dbox]) - f32(pcx), qy[dbox] - f32(pcy), qz[dbox] - f32(pcz), *p_axes) > 0
        sub[plic & (lab == WHITE_MATTER)] = f32(t["wm"] * (1.0 - 0.35 * g))
    if band is not None:  # compact corpus callosum fibres: darker than the surrounding white matter
        sub = intensity[band]
        cc = (np.abs(qx[band]) < f32(6.0)) & (core_depth >= 0) & (core_depth <= f32(cc_q)) & (qz[band] > f32(cz))
        sub[cc & (labels[band] == WHITE_MATTER)] = f32(t["wm"] * (0.9 - 0.1 * g))
        del cc
    if cb_box is not None:
        # darker cortex, brighter central white matter
        sub = intensity[cb_box]
        depth_mm = d_cb * f32(subj.size)
        shade = f32(0.92) + f32(0.16) * np.clip((depth_mm - f32(2.0)) / f32(4.0), 0.0, 1.0)
        sel = cerebellum & (labels[cb_box] == CEREBELLUM_BRAINSTEM)
        sub[sel] = f32(t["cerebellum"]) * shade[sel]
        del depth_mm, shade
    if bs_box is not None:
        sub = intensity[bs_box]
        sub[brainstem & (labels[bs_box] == CEREBELLUM_BRAINSTEM)] = f32(t["brainstem"])

    n_cysts = _draw_lesions(
        frame,
        inj.cysts,
        qx,
        qy,
        qz,
        labels,
        intensity,
        injury_mask,
        subj.size,
        spacing,
        new_label=CSF,
        value=t["csf"] * 1.02,
    )
    n_punct = _draw_lesions(
        frame,
        inj.punctate,
        qx,
        qy,
        qz,
        labels,
        intensity,
        injury_mask,
        subj.size,
        spacing,
        new_label=WHITE_MATTER,
        value=0.30,
    )
    findings = {
        "ventricular_dilatation": round(float(inj.dilatation), 3),
        "cysts": int(n_cysts),
        "punctate_lesions": int(n_punct),
        "wm_loss": round(float(inj.wm_loss), 3),
    }
    return labels, intensity, injury_mask, findings


def _draw_lesions(frame, lesions, qx, qy, qz, labels, intensity, injury_mask, size, spacing, new_label, value):
    """Draw spherical lesions (centre in the anatomical frame, radius in mm) inside white matter.

    The radius is raised to at least half a voxel diagonal, so that a small lesion does not fall
    between the voxel centres of a coarse grid. Returns the number of lesions that got a voxel.
    """
    drawn = 0
    min_r = 0.87 * float(np.max(spacing))
    for centre, radius_mm in lesions:
        r_q = max(radius_mm, min_r) / size
        box = frame.box(centre - r_q, centre + r_q, 2.0)
        if box is None:
            continue
        dist2 = (qx[box] - centre[0]) ** 2 + (qy[box] - centre[1]) ** 2 + (qz[box] - centre[2]) ** 2
        sel = (dist2 <= np.float32(r_q**2)) & (labels[box] == WHITE_MATTER)
        if not sel.any():
            continue
        drawn += 1
        labels[box][sel] = new_label
        intensity[box][sel] = np.float32(value)
        injury_mask[box] |= sel
    return drawn


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

    Deterministic for a given seed. It is simulated (see the module docstring), not a real scan.
    """
    return to_nifti(make_phantom(seed, injured, pma_weeks=40.0), SAMPLE_ORIENTATION, np.float32)
