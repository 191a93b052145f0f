"""The phantom's injuries: which ones an injured infant has, how severe, where; the lesion painter.

:func:`_draw_injury` draws ventricular dilatation, white matter volume loss, cystic periventricular
leukomalacia and punctate white matter lesions (:data:`SUBTLE_FRACTION`, :data:`SUBTLE_RANGES`);
:func:`_draw_lesions` paints the cysts and punctate lesions into the tissue maps. Dilatation and
white matter loss are applied where the anatomy is drawn (:mod:`model.simulation.phantom.tissue_maps`).
Imports :mod:`model.simulation.phantom.anatomy` only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from model.simulation.phantom.anatomy import _VENT_CENTRE, WHITE_MATTER, _Subject, _vent_params

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


@dataclass
class _Injury:
    dilatation: float = 1.0
    wm_loss: float = 0.0
    cysts: list = field(default_factory=list)  # (centre q (3,), radius mm)
    punctate: list = field(default_factory=list)
    subtle: bool = False  # one finding at the mild end of its range (SUBTLE_FRACTION)


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


def _draw_lesions(  # noqa: PLR0913 - the grid, the maps it paints into and the lesion kind
    frame, lesions, qx, qy, qz, labels, intensity, injury_mask, size, spacing, new_label, value
):
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
