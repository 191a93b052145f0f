"""Out-of-distribution gate: is this scan like what the weights were trained on?

A probability is shown as a call only when the scan passes two independent checks (issue 8 part 3):

1. **Rules** (:func:`rule_reasons`), needing no weights: a 3D volume with a plausible voxel size and
   field of view, a head the size of a 28-44 week infant's, and neonatal-T2 contrast inside it.
   The contrast checks are segmentation-free. The head is the largest connected object above half
   Otsu's threshold (scikit-image ``threshold_otsu``), holes filled; depth is the Euclidean
   distance to its surface (scipy ``distance_transform_edt``), ``r`` = depth / deepest depth.

   * *CSF is the bright tail*: inside the head (deeper than 3 mm, away from partial volume) the
     intensity histogram has its long tail on the bright side, ``(p98 - p50) / (p50 - p2)``: CSF is
     a minority class brighter than everything else on T2; on T1 or inverted contrast it is the
     dark tail;
   * *no dark fluid in the core*: the 5th percentile of the core (r > 0.6, where the lateral
     ventricles are) is not below the darkest tissue of the head, measured as
     ``(core p5 - p2) / (p50 - p2)`` on the same voxels as the bright tail (on T1 or inverted
     contrast the ventricles are the darkest voxels there). Like the bright tail it is unchanged by
     any intensity scale and offset, so an inverted scan stored with an offset cannot slip past it
     (a ratio to the median could: an earlier version let inverted 28-34 week templates through
     at an offset of half their maximum);
   * *structure*: neighbouring voxels inside the head are correlated (pure noise is not);
   * *acquisition*: the scan's own metadata (DICOM header, JSON sidecar, BIDS file name, dcm2niix's
     NIfTI ``descrip``) does not say it is something other than T2-weighted
     (:func:`model.acquisition.t2_weighting`: e.g. ``_T1w``, MPRAGE, FLAIR, TE < 30 ms). This is
     the only guard against a **neonatal T1**: the contrast rules above do not catch one reliably
     (T1s rendered from the Serag tissue labels with random T1 contrasts pass them in most draws;
     their bright grey matter is itself a small bright fraction), nor does the feature gate.

   Measured but deliberately **not** a rule: "unmyelinated white matter brighter than cortex" as
   the median of a deep band (0.3 < r < 0.6) over a superficial band (0.08 < r < 0.25)
   (``wm_cortex``). It separates normal from inverted templates (1.04-1.11 vs 0.86-0.96) but falls
   to 0.68-0.96 on brains with white matter volume loss (wider, bright extracerebral CSF), so as a
   rule it would call injured brains out of distribution. It is reported in the measures only.
   Likewise ``core_bright`` (core 95th percentile / median; bright ventricles) is reported only:
   slit-like term ventricles give 1.22-1.29 on normal phantoms.

   Ranges were **measured** on the 17 Serag et al. 2012 templates (``../shared/data/neonatal-serag``,
   28-44 weeks; brain masks and T2) and on our phantom (:mod:`model.simulation.phantom`), and set
   with margin; nothing is trained on them. The measurements are written next to each constant.

2. **Feature gate** (:func:`feature_verdict`), tied to the weights: the Mahalanobis distance of the
   512-D penultimate feature (``network.forward_features``, the TTA identity pass) to the nearest
   class mean under one shared covariance (Lee et al. 2018, "A Simple Unified Framework for
   Detecting Out-of-Distribution Samples and Adversarial Attacks", NeurIPS, Eq. 2), with the
   covariance shrunk by Ledoit & Wolf (2004) (scikit-learn ``LedoitWolf``). The threshold is the
   99th percentile of the distances of a held-out in-distribution set.

   The statistics (class means (2, 512) and the precision matrix (512, 512), float64) do not fit
   in the JSON card (about 5 MB of text), so they live in ``ood.safetensors`` next to the weights;
   the card's ``ood`` field records its SHA-256, the threshold, the weights' SHA-256 it was fitted
   for and how. :func:`model.checkpoint.load_weights` verifies both hashes; a card without ``ood``
   means "feature gate not fitted" (the rules still apply). Fitting lives in :mod:`model.ood.fit`
   (so the inference core never imports the simulators, and the gate, which :mod:`model.inference`
   imports, is a module of its own: the ``model.ood`` package, which fits it with the network and the
   simulators, sits above the core with no circle back into it); ``python -m model.train --synthetic``
   fits the gate after training, and otherwise refit whenever the weights change::

       python -m model.ood fit --weights DIR --synthetic 200 --seed 1     # renders of the training generator
       python -m model.ood fit --weights DIR --manifest heldout.csv        # columns path,label[,subject]
       python -m model.ood check SCAN [SCAN ...]                           # rules only, a table
"""

from __future__ import annotations

import csv
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage as ndi

from model.acquisition import t2_weighting
from model.preprocessing import head_object
from model.volume import Volume

# ---- rule constants (measured; see the module docstring) ------------------------------------------
#: Voxel size (mm) accepted along every axis. Clinical neonatal T2: 0.4-1.0 mm in plane, slices up to
#: about 4 mm (the training generator randomises slice thickness up to about 4 mm).
VOXEL_MM = (0.2, 5.0)
#: Field of view (mm) accepted along every axis: a neonatal head needs at least ~60 mm, and
#: clinical fields of view are below 300 mm.
FOV_MM = (60.0, 320.0)
#: Fewest voxels along an axis for a volumetric scan.
MIN_VOXELS = 16
#: Head/brain volume (ml) accepted. Serag brain masks: 196 ml (28 w) - 559 ml (44 w); our head
#: object measures 172-506 ml on the skull-stripped templates. A whole neonatal head with scalp is
#: below ~1000 ml (head circumference <= 38 cm at 44 w); an adult head is ~4000 ml (ICBM 2009c: 3832-3989).
HEAD_ML = (100.0, 1300.0)
#: Left-right and anterior-posterior extent (mm) of the head object. Serag templates: LR 60-89,
#: AP 84-120 mm; neonatal head with scalp at 44 w: about 105 x 135 mm; adult brain >= 130 x 160 mm.
HEAD_LR_MM = (40.0, 125.0)
HEAD_AP_MM = (55.0, 150.0)
#: Bright-tail asymmetry (p98 - p50) / (p50 - p2) inside the head. Serag 1.42 (28 w) - 4.14 (44 w);
#: phantoms (first anatomy: 112 normal/injured, seeds 10-49, 0.86 and 1.5 mm) >= 0.51; inverted Serag 0.25-0.71;
#: ICBM T1 0.65. Phantoms sized to the Serag templates (larger ventricles; seeds 10-49 injured, 1.5 mm): 38 of 40
#: >= 0.58, and 2 at 0.37 (ventricles dilated x2.4-2.8 with white matter loss: CSF is no longer a minority), which
#: this rule flags. A known limit: the most severe ventriculomegaly can read as "outside the training domain".
BRIGHT_TAIL_MIN = 0.50
#: Core floor (core p5 - p2) / (p50 - p2) inside the head. Serag 0.14-0.23; phantoms -0.09 to -0.02 (40 injured, seeds
#: 10-49, and 10 normal at 1.5 mm: their cortex and punctate lesions are the darkest tissue); inverted Serag -0.21 to -0.44,
#: the same with an intensity offset (1.5 max - T2); ICBM T1 0.22 (flagged by its head size).
CORE_DARK_MIN = -0.15
#: Neighbour correlation inside the head. Real and simulated scans > 0.9; white noise ~ 0.
STRUCTURE_MIN = 0.3
#: Grid (mm) the rules are measured on (strided, no interpolation): every axis is strided by
#: round(RULE_GRID_MM / spacing) (at least 1), so a 0.86 mm scan is measured at 1.7 mm and a 1 mm
#: scan at 2 mm. Head volume and extents need no finer grid, and the full-resolution distance
#: transform and morphology cost 0.7 s of a 0.76 s analysis (issue 28, measured).
RULE_GRID_MM = 2.0

OOD_METHOD = "mahalanobis_min_class_ledoit_wolf"
FEATURE_REASON = "its image features are unlike the training data"


@dataclass
class HeadMeasures:
    """What the rules measured (for tables and tests); ``None`` where nothing could be measured."""

    voxel_mm: tuple
    fov_mm: tuple
    head_ml: float | None = None
    head_extent_mm: tuple | None = None
    bright_tail: float | None = None
    core_bright: float | None = None
    core_dark: float | None = None
    wm_cortex: float | None = None
    structure: float | None = None

    def to_dict(self) -> dict:
        r = lambda v: None if v is None else (round(float(v), 3) if np.isscalar(v) else [round(float(x), 1) for x in v])  # noqa: E731
        return {k: r(getattr(self, k)) for k in self.__dataclass_fields__}


def rule_steps(spacing_mm) -> np.ndarray:
    """Per-axis stride (int, >= 1) that brings voxels of ``spacing_mm`` to about :data:`RULE_GRID_MM`."""
    return np.maximum(1, np.round(RULE_GRID_MM / np.asarray(spacing_mm, dtype=float))).astype(int)


def measure_head(volume: Volume) -> HeadMeasures:
    """Measure geometry, head size and contrast of a RAS+ volume (see the module docstring).

    Parameters
    ----------
    volume : Volume
        ``data`` (X, Y, Z) float32 RAS+, ``affine`` in mm.

    Returns
    -------
    HeadMeasures
        Ratios are dimensionless; ``head_ml`` in millilitres, extents in mm (R-L, A-P, S-I).
    """
    spacing = np.asarray(volume.spacing_mm, dtype=float)
    shape = np.asarray(volume.shape)
    out = HeadMeasures(voxel_mm=tuple(spacing), fov_mm=tuple(spacing * shape))
    step = rule_steps(spacing)
    data = volume.data[:: step[0], :: step[1], :: step[2]].astype(np.float32)
    sp = spacing * step
    if min(data.shape) < 3 or float(data.max()) == float(data.min()):
        return out
    head = head_object(data)
    if not head.any():
        out.head_ml = 0.0
        return out
    out.head_ml = float(head.sum() * np.prod(sp) / 1000.0)
    idx = np.argwhere(head)
    out.head_extent_mm = tuple((idx.max(0) - idx.min(0) + 1) * sp)
    # neighbour correlation at the scan's own resolution (a strided grid would measure texture
    # at 2 mm, not the voxel-to-voxel structure the rule is about), inside the coarse head
    full = volume.data
    head_full = np.ones(full.shape, bool)
    coarse = np.repeat(np.repeat(np.repeat(head, step[0], 0), step[1], 1), step[2], 2)
    head_full &= np.pad(
        coarse[: full.shape[0], : full.shape[1], : full.shape[2]],
        [(0, max(0, full.shape[k] - coarse.shape[k])) for k in range(3)],
        mode="edge",
    )
    pairs = head_full[:-1] & head_full[1:]  # neighbours along X inside the head
    a, b = full[:-1][pairs], full[1:][pairs]
    if a.size > 10 and a.std() > 0 and b.std() > 0:
        out.structure = float(np.corrcoef(a, b)[0, 1])
    depth = ndi.distance_transform_edt(head, sampling=sp)
    if depth.max() < 3 * sp.max():
        return out
    r = depth / depth.max()
    interior = data[head & (depth > sp.max())]
    med = float(np.median(interior))
    if med <= 0:
        return out
    deeper = data[depth > 3.0]
    p2, p50, p98 = np.percentile(deeper if deeper.size > 100 else interior, [2, 50, 98])
    if p50 > p2:
        out.bright_tail = float((p98 - p50) / (p50 - p2))
    core = data[r > 0.6]
    core_p5, core_p95 = np.percentile(core, [5, 95])
    out.core_bright = float(core_p95) / med
    if p50 > p2:
        out.core_dark = float((core_p5 - p2) / (p50 - p2))
    deep, sup = data[(r > 0.3) & (r < 0.6)], data[(r > 0.08) & (r < 0.25)]
    if deep.size and sup.size and np.median(sup) > 0:
        out.wm_cortex = float(np.median(deep) / np.median(sup))
    return out


def head_mask(volume: Volume) -> np.ndarray:
    """The head object of :func:`measure_head` on the volume's own grid: bool (X, Y, Z)."""
    data = volume.data
    if float(data.max()) == float(data.min()):
        return np.zeros(data.shape, bool)
    return head_object(data)


def rule_reasons(volume: Volume, measures: HeadMeasures | None = None) -> list[str]:
    """Reasons why ``volume`` is not a neonatal T2 head scan; empty when every rule passes.

    Parameters
    ----------
    volume : Volume
    measures : HeadMeasures, optional
        From :func:`measure_head` (computed when absent).

    Returns
    -------
    list of str
        Short phrases for "Outside what these weights were trained on: <reason>".
    """
    if len(volume.shape) != 3 or min(volume.shape) < MIN_VOXELS:
        return [f"not a volumetric 3D scan (shape {'x'.join(map(str, volume.shape))})"]
    m = measures or measure_head(volume)
    reasons = []
    acq = volume.extra.get("acquisition")
    weighted, why = t2_weighting(acq)
    if weighted is False:
        reasons.append(f"its metadata ({acq.source}) says it is not T2-weighted: {why}")
    vox = np.asarray(m.voxel_mm)
    if vox.min() < VOXEL_MM[0] or vox.max() > VOXEL_MM[1]:
        reasons.append(f"voxel size {np.round(vox, 2).tolist()} mm is outside {VOXEL_MM[0]}-{VOXEL_MM[1]} mm")
    fov = np.asarray(m.fov_mm)
    if fov.min() < FOV_MM[0] or fov.max() > FOV_MM[1]:
        reasons.append(
            f"field of view {np.round(fov).astype(int).tolist()} mm is outside {FOV_MM[0]:.0f}-{FOV_MM[1]:.0f} mm"
        )
    if m.head_ml is None or m.head_extent_mm is None:
        reasons.append("no head found in the image")
        return reasons
    if m.structure is not None and m.structure < STRUCTURE_MIN:
        reasons.append(f"no anatomical structure (neighbouring voxels correlate {m.structure:.2f}): noise?")
        return reasons
    lr, ap = m.head_extent_mm[0], m.head_extent_mm[1]
    if not (
        HEAD_ML[0] <= m.head_ml <= HEAD_ML[1]
        and HEAD_LR_MM[0] <= lr <= HEAD_LR_MM[1]
        and HEAD_AP_MM[0] <= ap <= HEAD_AP_MM[1]
    ):
        reasons.append(
            f"head size {m.head_ml:.0f} ml, {lr:.0f} x {ap:.0f} mm (left-right x front-back) "
            "is not that of an infant of 28-44 weeks"
        )
    if m.core_dark is None or m.bright_tail is None:
        if not reasons:
            reasons.append("the head is too small or too thin to check its contrast")
        return reasons
    if m.bright_tail < BRIGHT_TAIL_MIN:
        reasons.append(
            "the brightest tissue is not a small bright fraction like CSF on T2 (T1-weighted or inverted contrast?)"
        )
    if m.core_dark < CORE_DARK_MIN:
        reasons.append("dark fluid in the centre of the brain (T1-weighted or inverted contrast?)")
    return reasons


# ---- feature gate -----------------------------------------------------------------------------------
@dataclass
class OODStatistics:
    """Fitted feature statistics: class means (C, D), shared precision (D, D), threshold (distance)."""

    means: np.ndarray
    precision: np.ndarray
    threshold: float

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance to the nearest class mean (Lee et al. 2018 Eq. 2), shape (N,).

        Parameters
        ----------
        features : np.ndarray, shape (N, D) or (D,)
        """
        f = np.atleast_2d(np.asarray(features, dtype=np.float64))
        diff = f[:, None, :] - self.means[None, :, :]  # (N, C, D)
        d2 = np.einsum("ncd,de,nce->nc", diff, self.precision, diff)
        return np.sqrt(np.maximum(d2.min(axis=1), 0.0))

    def tensors(self) -> dict:
        return {
            "means": torch.from_numpy(np.ascontiguousarray(self.means, dtype=np.float64)),
            "precision": torch.from_numpy(np.ascontiguousarray(self.precision, dtype=np.float64)),
        }


def fit_statistics(
    features: np.ndarray, labels: np.ndarray, calibration: np.ndarray, percentile: float = 99.0
) -> OODStatistics:
    """Class means + Ledoit-Wolf shared covariance on ``features``; threshold on ``calibration``.

    Parameters
    ----------
    features : np.ndarray, shape (N, D)
        In-distribution training features (penultimate layer, identity pass).
    labels : np.ndarray of int, shape (N,)
        0 normal, 1 injury; each class present.
    calibration : np.ndarray, shape (M, D)
        Held-out in-distribution features; the threshold is the ``percentile`` of their distances.

    Raises
    ------
    ValueError
        A class without cases, or no calibration cases.
    """
    from sklearn.covariance import LedoitWolf

    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels).astype(int)
    classes = [0, 1]
    if any((labels == c).sum() == 0 for c in classes):
        raise ValueError("the feature statistics need cases of both classes (normal and injury)")
    if len(calibration) == 0:
        raise ValueError("the threshold needs held-out in-distribution cases")
    means = np.stack([features[labels == c].mean(axis=0) for c in classes])
    centred = features - means[labels]
    lw = LedoitWolf(assume_centered=True).fit(centred)
    stats = OODStatistics(means=means, precision=lw.precision_, threshold=0.0)
    stats.threshold = float(np.percentile(stats.distance(calibration), percentile))
    return stats


def statistics_from(loaded) -> OODStatistics | None:
    """The fitted statistics of a :class:`~model.checkpoint.LoadedModel`, or None when not fitted."""
    tensors = getattr(loaded, "ood_tensors", None)
    if not tensors:
        return None
    return OODStatistics(
        means=tensors["means"].numpy().astype(np.float64),
        precision=tensors["precision"].numpy().astype(np.float64),
        threshold=float(loaded.card.ood["threshold"]),
    )


@dataclass
class OODVerdict:
    """Whether a scan is inside what the weights were trained on.

    Attributes
    ----------
    reasons : list of str
        Why it is outside (rules first, then the feature gate); empty when in distribution.
    score : float or None
        Mahalanobis distance of its features (None when the feature gate is not fitted).
    threshold : float or None
        The card's 99th-percentile distance (None when not fitted).
    measures : dict
        What the rules measured (:class:`HeadMeasures`).
    """

    reasons: list = field(default_factory=list)
    score: float | None = None
    threshold: float | None = None
    measures: dict = field(default_factory=dict)

    @property
    def in_distribution(self) -> bool:
        return not self.reasons

    @property
    def feature_gate(self) -> str:
        return "fitted" if self.threshold is not None else "not fitted"

    @property
    def summary(self) -> str:
        """``"in distribution"`` or ``"Outside what these weights were trained on: <reasons>"``."""
        if self.in_distribution:
            return "in distribution"
        return "Outside what these weights were trained on: " + "; ".join(self.reasons)

    def to_dict(self) -> dict:
        return {
            "in_distribution": self.in_distribution,
            "ood_score": None if self.score is None else round(float(self.score), 4),
            "ood_threshold": None if self.threshold is None else round(float(self.threshold), 4),
            "ood_reasons": list(self.reasons),
            "ood_feature_gate": self.feature_gate,
        }


def feature_verdict(stats: OODStatistics | None, features: np.ndarray | None, reasons: list[str]) -> OODVerdict:
    """Combine rule ``reasons`` with the feature gate for one scan's (D,) ``features``."""
    verdict = OODVerdict(reasons=list(reasons))
    if stats is None or features is None:
        return verdict
    verdict.score = float(stats.distance(features)[0])
    verdict.threshold = float(stats.threshold)
    if verdict.score > verdict.threshold:
        verdict.reasons.append(f"{FEATURE_REASON} (distance {verdict.score:.1f} > {verdict.threshold:.1f})")
    return verdict


@contextmanager
def capture_features(model: torch.nn.Module):
    """Collect the pooled penultimate features of every forward pass while inside the context.

    Yields a list that receives one (N, 512) float64 array per forward call (the input of ``fc``).
    The hook is removed on exit; errors propagate.
    """
    got: list = []

    def hook(_module, inputs):
        got.append(inputs[0].detach().float().cpu().numpy().astype(np.float64))

    handle = model.fc.register_forward_pre_hook(hook)
    try:
        yield got
    finally:
        handle.remove()


@torch.no_grad()
def features_of(loaded, volume: Volume) -> np.ndarray:
    """(512,) float64 penultimate feature of the identity pass for one volume."""
    from model.preprocessing import preprocess

    device = next(loaded.model.parameters()).device
    x = preprocess(volume.data, loaded.card.preprocessing).to(device)
    return loaded.model.forward_features(x).float().cpu().numpy().astype(np.float64)[0]


def read_manifest(path: str | Path) -> list[dict]:
    """Rows ``{"path": Path, "label": int, "subject": str, "mask": Path | None, "injuries": str,
    "degradation": str, "seg": Path | None, "pma_weeks": float | None}`` of a manifest CSV (all
    but path and label are optional columns, "" / None when absent;
    :mod:`model.simulation.real_anatomy` writes them; ``seg`` is a reference label map).

    Raises
    ------
    ValueError
        Missing file or columns, or a label other than 0/1 (message names the file and row).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: manifest not found")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise ValueError(f"{path}: a manifest needs a header with at least the columns path,label")
    out = []
    for i, r in enumerate(rows, start=2):
        if r["label"] not in ("0", "1"):
            raise ValueError(f"{path}: row {i}: label must be 0 or 1, got {r['label']!r}")
        p = Path(r["path"])
        mask = Path(r["mask"]) if r.get("mask") else None
        seg = Path(r["seg"]) if r.get("seg") else None
        try:
            pma = float(r["pma_weeks"]) if r.get("pma_weeks") else None
        except ValueError:
            raise ValueError(f"{path}: row {i}: pma_weeks must be a number, got {r['pma_weeks']!r}") from None
        out.append(
            {
                "path": p if p.is_absolute() else path.parent / p,
                "label": int(r["label"]),
                "subject": r.get("subject") or f"row{i}",
                "mask": None if mask is None else (mask if mask.is_absolute() else path.parent / mask),
                "injuries": r.get("injuries") or "",
                "degradation": r.get("degradation") or "",
                "seg": None if seg is None else (seg if seg.is_absolute() else path.parent / seg),
                "pma_weeks": pma,
            }
        )
    return out


def check_table(paths: list[Path]) -> list[dict]:
    """Rules on each file: ``{"file", "in_distribution", "reasons", **measures}`` (unreadable files too)."""
    from model.errors import ScanError
    from model.volume import load_volume

    rows = []
    for p in paths:
        try:
            vol = load_volume(p, compute_hash=False)
        except ScanError as exc:
            rows.append({"file": str(p), "in_distribution": False, "reasons": [exc.reason]})
            continue
        m = measure_head(vol)
        reasons = rule_reasons(vol, m)
        rows.append({"file": str(p), "in_distribution": not reasons, "reasons": reasons, **m.to_dict()})
    return rows
