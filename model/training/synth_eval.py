"""The synthetic trainer's held-out evaluation: the validation and calibration renders, TTA
probabilities with their metrics, the distance-tolerant Grad-CAM pointing game, and the decoder's Dice.

Used during training (every ``--eval-every`` steps, only reported) and for the shipped weights
(``metrics.json``, ``validation.csv``, the 'youden' threshold). May import the core,
:mod:`model.simulation`, :mod:`model.training.metrics` and :mod:`model.training.synth_bank`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from model.fileio import atomic_output
from model.gradcam import cam_pass, gradcam_session, upsample_cell_centred
from model.inference import flip_lr, tta_probabilities
from model.preprocessing import PreprocessConfig
from model.segmentation import CHANNEL_VALUES
from model.simulation.synth import PairRenderer
from model.training.metrics import binary_metrics
from model.training.synth_bank import (
    CALIBRATION_SEED_BASE,
    VALIDATION_SEED_BASE,
    bank_file,
    build_bank,
    load_pair,
    seed_for,
)

#: Pointing-game tolerance (mm): a hit is a heatmap maximum within this distance of the injury.
POINTING_TOLERANCE_MM = 10.0


def held_out_renders(path: Path, bank_dir: Path, cfg: PreprocessConfig, seed: int, what: str, n: int):
    """Held-out renders of ``n`` pairs (x, y, mask, mean field of view in mm, label maps), cached in ``path``.

    ``what`` is ``"validation"`` (reported metrics) or ``"calibration"`` (the 'youden' threshold);
    it picks the anatomy seeds (:data:`VALIDATION_SEED_BASE` or :data:`CALIBRATION_SEED_BASE`
    ``+ seed * 1000 + k``, built into the bank in ``bank_dir``) and the render stream. The label
    maps are None for a cache written without them.

    Returns
    -------
    x : torch.Tensor (2n, 1, X, Y, Z); y : np.ndarray (2n,); mask : torch.Tensor (2n, 1, X, Y, Z);
    fov_mm : np.ndarray (3,); labels : torch.Tensor (2n, X, Y, Z) or None
    """
    if path.is_file():
        v = torch.load(path, weights_only=True)
        return v["x"], v["y"].numpy(), v["mask"], v["fov_mm"].numpy(), v.get("labels")
    base = VALIDATION_SEED_BASE if what == "validation" else CALIBRATION_SEED_BASE
    seeds = [base + seed * 1000 + k for k in range(n)]
    build_bank(bank_dir, seeds)
    renderer = PairRenderer(cfg)
    xs, ys, ms, fovs, labs = [], [], [], [], []
    for s in tqdm(seeds, desc=f"held-out {what} renders", unit="pair"):
        pair = load_pair(bank_file(bank_dir, s))
        r = renderer.render(pair, seed_for(seed, what, s))
        xs.append(r.x), ys.append(r.y), ms.append(r.mask)
        assert r.seg is not None
        labs.append(torch.from_numpy(CHANNEL_VALUES[r.seg.float().argmax(1).numpy()]))
        fovs.append(np.array(pair.normal.shape) * pair.spacing_mm)
    x, y, m, lab = torch.cat(xs), torch.cat(ys), torch.cat(ms), torch.cat(labs)
    fov = torch.as_tensor(np.mean(fovs, axis=0))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        torch.save({"x": x, "y": y, "mask": m, "fov_mm": fov, "labels": lab}, tmp)
    return x, y.numpy(), m, fov.numpy(), lab


@torch.no_grad()
def segmentation_dice(model, inputs: torch.Tensor, labels: torch.Tensor, device) -> dict:
    """Dice of the decoder's argmax against render label maps, per label value, over all cases.

    Parameters
    ----------
    inputs : torch.Tensor, shape (N, 1, X, Y, Z); labels : torch.Tensor, shape (N, X, Y, Z), uint8
        label values of :data:`model.segmentation.SEG_CLASSES`.

    Returns
    -------
    dict
        label value (str) -> Dice (pooled over the cases), classes absent from both omitted.
    """
    model.eval()
    inter = np.zeros(len(CHANNEL_VALUES)), np.zeros(len(CHANNEL_VALUES)), np.zeros(len(CHANNEL_VALUES))
    for start in range(0, len(inputs), 8):
        _, seg = model.forward_with_segmentation(inputs[start : start + 8].to(device))
        pred = torch.as_tensor(CHANNEL_VALUES, device=seg.device)[seg.argmax(1)].cpu().numpy()
        ref = labels[start : start + 8].numpy()
        for k, v in enumerate(CHANNEL_VALUES):
            p, r = pred == v, ref == v
            inter[0][k] += np.sum(p & r)
            inter[1][k] += np.sum(p)
            inter[2][k] += np.sum(r)
    model.train()
    both, npred, nref = inter
    return {
        str(int(v)): float(2 * both[k] / (npred[k] + nref[k]))
        for k, v in enumerate(CHANNEL_VALUES)
        if npred[k] + nref[k] > 0
    }


# ------------------------------------------------------------------------------------------- evaluation
def pointing_hit(
    heatmap: np.ndarray,
    mask: np.ndarray,
    brain: np.ndarray,
    spacing_mm: np.ndarray,
    tolerance_mm: float = POINTING_TOLERANCE_MM,
) -> bool:
    """Pointing game (Zhang et al., ECCV 2016) with a distance tolerance, on one grid.

    A hit when the heatmap's maximum inside the brain lies within ``tolerance_mm`` of an injury
    voxel (the original game allows 15 pixels; our coarse 4x4x4 Grad-CAM cells are 25-35 mm).

    Parameters
    ----------
    heatmap : (X, Y, Z) float; mask, brain : (X, Y, Z) bool; spacing_mm : (3,) float
    """
    from scipy import ndimage

    if not mask.any() or not brain.any():
        return False
    peak = np.unravel_index(int(np.argmax(np.where(brain, heatmap, -1.0))), heatmap.shape)
    dist = ndimage.distance_transform_edt(~mask, sampling=spacing_mm)
    return bool(dist[peak] <= tolerance_mm)


def validate(
    model,
    inputs: torch.Tensor,
    labels: np.ndarray,
    masks: torch.Tensor,
    layer: str,
    device,
    fov_mm: np.ndarray,
    with_cam: bool = True,
    threshold: float = 0.5,
) -> dict:
    """TTA probabilities, metrics at ``threshold``, and the pointing game on the held-out renders
    (injured cases called at ``threshold``)."""
    model.eval()
    p1, p2 = [], []
    for start in range(0, len(inputs), 8):
        a, b = tta_probabilities(model, inputs[start : start + 8].to(device))
        p1.append(a), p2.append(b)
    p = 0.5 * (np.concatenate(p1) + np.concatenate(p2))
    out = {"probs": p, "metrics": binary_metrics(labels, p, threshold=threshold)}
    if with_cam:
        hits = []
        with gradcam_session(model, layer) as cam:
            for i in np.flatnonzero((labels == 1) & (p >= threshold)):
                x = inputs[i : i + 1].to(device)
                _, g1 = cam_pass(cam, x)
                _, g2 = cam_pass(cam, flip_lr(x))
                grid = 0.5 * (g1 + np.flip(g2, axis=0))
                heat = upsample_cell_centred(grid, x.shape[2:]).numpy()
                xi = inputs[i, 0].numpy()
                brain = xi > xi.min() + 0.1 * (xi.max() - xi.min())
                hits.append(pointing_hit(heat, masks[i, 0].numpy() > 0.5, brain, fov_mm / np.array(x.shape[2:])))
        out["pointing"] = {
            "hits": int(sum(hits)),
            "n": len(hits),
            "rate": float(np.mean(hits)) if hits else None,
            "tolerance_mm": POINTING_TOLERANCE_MM,
        }
    model.train()
    return out
