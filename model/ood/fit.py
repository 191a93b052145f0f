"""Fitting the feature gate of :mod:`model.ood_gate` for a weights folder (``python -m model.ood fit``).

Kept apart from the gate itself so the inference core never imports the simulators: fitting needs
fresh in-distribution cases, and for weights trained by ``python -m model.train --synthetic`` those
are renders of the training generator (:mod:`model.simulation.synth`) on anatomy no training run
used (seeds disjoint from the training bank and its held-out validation).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from model.ood_gate import OOD_METHOD, features_of, fit_statistics, read_manifest, rule_reasons
from model.volume import Volume

#: Anatomy seeds of the fitting renders: ``OOD_SEED_BASE + seed * 10_000 + k`` (disjoint from the
#: training bank, ``seed * 10^6 + k``, and its validation set, model.training.synth_bank).
OOD_SEED_BASE = 3_000_000_000 // 2


def synthetic_cases(n: int, seed: int, cfg, device: torch.device | str = "cpu"):
    """``n`` fresh renders of the training generator, normal and injured pairs: yields (x, label, subject).

    ``x`` is a (1, 1, D, H, W) float32 network input on ``cfg``'s grid, z-scored as preprocessing
    does (:class:`model.simulation.synth.PairRenderer`); ``label`` comes from the final label map.
    Each pair is one subject (so the calibration split never separates a pair).
    """
    from model.simulation.synth import PairRenderer, anatomy_pair

    renderer = PairRenderer(cfg, device)
    for k in range((n + 1) // 2):
        s = OOD_SEED_BASE + seed * 10_000 + k
        r = renderer.render(anatomy_pair(s), seed=s)
        for i in range(2):
            if 2 * k + i < n:
                yield r.x[i : i + 1], int(r.y[i]), f"synth-{s}"


def phantom_cases(n: int, seed: int):
    """``n`` phantom volumes in mm (one fixed contrast), alternating normal/injured: (Volume, label, subject)."""
    from model.simulation.phantom import make_phantom, to_nifti
    from model.volume import volume_from_image

    for i in range(n):
        injured = bool(i % 2)
        ph = make_phantom(seed * 100_003 + i // 2 + 50_000, injured)
        yield volume_from_image(to_nifti(ph)), int(injured), f"phantom-{i // 2}"


def manifest_cases(path: Path):
    """Cases of a manifest CSV (``path,label[,subject]``; relative paths from the CSV's folder)."""
    from model.volume import load_volume

    for row in read_manifest(path):
        yield load_volume(row["path"], compute_hash=False), row["label"], row["subject"]


@torch.no_grad()
def _features(loaded, item) -> np.ndarray:
    """(512,) float64 feature of a Volume (preprocessed by the card) or of a ready network input."""
    if isinstance(item, Volume):
        return features_of(loaded, item)
    device = next(loaded.model.parameters()).device
    return loaded.model.forward_features(item.to(device)).float().cpu().numpy().astype(np.float64)[0]


def fit_for_weights(
    folder: Path,
    cases,
    *,
    source: str,
    calibration_fraction: float = 0.3,
    seed: int = 0,
    device: str | torch.device = "cpu",
    log=print,
) -> dict:
    """Fit the feature gate of a weights folder on ``cases`` and write it into the folder.

    ``cases`` yields ``(item, label, subject)``; ``item`` is a :class:`model.volume.Volume` (the
    rules are applied and cases they flag are left out) or a ready (1, 1, D, H, W) network input.
    Subjects are split (seeded) into a fit part (means, covariance) and a held-out calibration part
    (threshold: 99th percentile). Writes ``ood.safetensors`` and the card's ``ood`` field
    atomically; the weights file is not touched.

    Returns
    -------
    dict
        The card's new ``ood`` field.

    Raises
    ------
    ValueError
        Fewer than 3 usable subjects.
    """
    from model.checkpoint import load_weights, write_ood

    loaded = load_weights(folder, device)
    feats, labels, subjects, rejected = [], [], [], 0
    for k, (item, label, subject) in enumerate(cases, start=1):
        if isinstance(item, Volume) and rule_reasons(item):
            rejected += 1  # the rules would flag it at inference: not in distribution by definition
            continue
        feats.append(_features(loaded, item))
        labels.append(label)
        subjects.append(subject)
        if k % 20 == 0:
            log(f"  {k} cases")
    feats_a, labels_a, subjects_a = np.asarray(feats), np.asarray(labels), np.asarray(subjects)
    unique = np.unique(subjects_a)
    if len(unique) < 3:
        raise ValueError(
            f"too few usable cases to fit the feature gate ({len(feats)}; {rejected} flagged by the rules)"
        )
    rng = np.random.default_rng(seed)
    held = set(rng.choice(unique, size=max(1, int(round(calibration_fraction * len(unique)))), replace=False))
    cal = np.array([s in held for s in subjects_a])
    stats = fit_statistics(feats_a[~cal], labels_a[~cal], feats_a[cal])
    info = {
        "method": OOD_METHOD,
        "reference": "Lee et al. 2018 (Mahalanobis, nearest class mean); Ledoit & Wolf 2004 shrinkage (scikit-learn)",
        "features": "penultimate 512-D (forward_features), TTA identity pass",
        "threshold": stats.threshold,
        "threshold_percentile": 99.0,
        "n_fit": int((~cal).sum()),
        "n_calibration": int(cal.sum()),
        "n_rejected_by_rules": rejected,
        "data": source,
        "seed": int(seed),
        "fitted_utc": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
    }
    return write_ood(folder, stats.tensors(), info)
