"""Scoring one cross-validation fold's model (:mod:`model.training.train`) on its held-out scans.

TTA probabilities (Eq. 12) with the identity pass's 512-D features (``oof_predictions.csv`` and the
t-SNE figure), and the Grad-CAM pointing game against BIDS-derivative injury masks
(``--injury-masks``). May import the core, :mod:`model.training.dataset` and :mod:`model.training.loop`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from model.inference import tta_forward
from model.preprocessing import PreprocessConfig
from model.training.dataset import Case
from model.training.loop import autocast_factory


@torch.no_grad()
def evaluate(model, inputs, device, amp=False, channels_last=False, batch_size: int = 4):
    """TTA probabilities (Eq. 12) and identity-pass 512-D features of preprocessed inputs.

    Returns
    -------
    p_identity, p_flipped : np.ndarray (N,); features : np.ndarray (N, 512) float32
    """
    model.eval()
    p1, p2, feats = [], [], []
    with autocast_factory(amp)():
        for start in range(0, len(inputs), batch_size):
            passes = tta_forward(
                model, inputs[start : start + batch_size].to(device), with_features=True, channels_last=channels_last
            )
            p1.append(passes.p_identity), p2.append(passes.p_flipped), feats.append(passes.features)
    return np.concatenate(p1), np.concatenate(p2), np.concatenate(feats).astype(np.float32)


def find_injury_mask(case: Case, masks_root: Path) -> Path | None:
    """``<masks_root>/<...>/<stem>_desc-injury_mask.nii.gz`` for a BIDS T2w scan, if present."""
    stem = case.path.name.split(".")[0]
    stem = stem[: -len("_T2w")] if stem.endswith("_T2w") else stem
    hits = list(Path(masks_root).rglob(f"{stem}_desc-injury_mask.nii*"))
    return hits[0] if hits else None


def pointing_game(
    model, cases: list[Case], probs: np.ndarray, cfg: PreprocessConfig, masks_root: Path, threshold: float = 0.5
) -> dict:
    """Grad-CAM pointing game on correctly flagged injured cases (those with a mask).

    The heatmap (averaged over both TTA passes, on the scan's grid) counts as a hit when its
    maximum inside the head (:func:`model.heatmap.heatmap_peak` within :func:`model.heatmap.head_mask`,
    the same point the viewer's "go to maximum" and the report show) lies inside the ground-truth
    injury mask. ``mask_fraction`` (mask volume / head volume) is the hit rate of a random point in
    the head, for comparison.

    Returns
    -------
    dict
        ``{case index within cases: {"hit": bool, "mask_fraction": float}}``.
    """
    from model.checkpoint import LoadedModel, new_card
    from model.heatmap import head_mask, heatmap_peak
    from model.inference import analyse
    from model.volume import load_volume

    loaded = LoadedModel(model=model, card=new_card("fold", "0", cfg, demonstration=True), folder=Path("."))
    out = {}
    for i, (case, p) in enumerate(zip(cases, probs)):
        if case.label != 1 or p < threshold:
            continue
        mask_path = find_injury_mask(case, masks_root)
        if mask_path is None:
            continue
        vol = load_volume(case.path, compute_hash=False)
        mask = load_volume(mask_path, compute_hash=False).data > 0.5
        heat = analyse(vol, loaded, with_cam=True).heatmap
        brain = head_mask(vol.data)
        if not (vol.data > vol.data.min()).any():
            continue
        peak = heatmap_peak(heat, brain)
        out[i] = {"hit": bool(mask[peak]), "mask_fraction": float(mask[brain].mean())}
    return out
