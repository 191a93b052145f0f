"""``python -m model.training.fusion_fit --weights DIR``: fit the fused injury call (model.fusion).

Protocol (issue 28 §3; chosen and justified on synthetic data only, never on the real-anatomy set):

1. Render ``--pairs`` calibration pairs (phantom seeds of the trainer's calibration range, disjoint
   from training and validation; one normal and one injured render each, the trainer's
   renderer and grid) and ``--pairs`` validation pairs (the trainer's validation range).
2. Run the weights on each render with TTA (Eq. 12) and the decoder; features
   (:func:`model.fusion.features`) from the classifier's P(injury) and the predicted label map.
3. Fit scikit-learn ``StandardScaler`` + ``LogisticRegression`` (L2, C=1) on the calibration
   renders; threshold by Youden's J on them.
4. Compare on the validation renders: AUC of the classifier alone against the fused call. The
   fusion is ``used`` (becomes the reported P(injury)) only when its AUC is higher by at least
   ``--min-gain``; either way the card records both AUCs, the coefficients and this rule.

The card's ``segmentation.fusion`` is rewritten (the weights and their hash are unchanged).
Exit codes: 0 done, 1 error, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from model.checkpoint import CARD_FILE, load_weights, read_card
from model.errors import GloResNetError
from model.fileio import write_bytes_atomic
from model.fusion import FEATURES, features
from model.inference import flip_lr
from model.segmentation import CHANNEL_VALUES


@torch.no_grad()
def render_features(loaded, seeds: list[int], stream: str, seed: int, bank_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Features (N, F) and labels (N,) of the normal and injured render of each seed."""
    from model.simulation.synth import PairRenderer
    from model.training.synth_bank import bank_file, build_bank, load_pair, seed_for

    build_bank(bank_dir, seeds)
    renderer = PairRenderer(loaded.card.preprocessing)
    model = loaded.model.eval()
    device = next(model.parameters()).device
    xs, ys = [], []
    for s in tqdm(seeds, desc=f"{stream} renders", unit="pair"):
        r = renderer.render(load_pair(bank_file(bank_dir, s)), seed_for(seed, stream, s))
        x = r.x.to(device)
        logits, seg = model.forward_with_segmentation(torch.cat([x, flip_lr(x)]))
        p = torch.softmax(logits.float(), 1)[:, 1].cpu().numpy()
        probs = torch.softmax(seg.float(), 1)
        for k in range(2):
            mean = 0.5 * (probs[k] + torch.flip(probs[k + 2], dims=(1,)))
            labels = CHANNEL_VALUES[mean.argmax(0).cpu().numpy()]
            xs.append(features(0.5 * (p[k] + p[k + 2]), labels))
            ys.append(int(r.y[k]))
    return np.array(xs), np.array(ys)


def fit(weights: Path, pairs: int, seed: int, min_gain: float, work: Path) -> dict:
    """Fit and record the fusion for ``weights``; returns the card's new ``segmentation.fusion``.

    Raises
    ------
    ValueError
        Weights without a segmentation decoder.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    from model.training.metrics import youden_threshold
    from model.training.synth_bank import CALIBRATION_SEED_BASE, VALIDATION_SEED_BASE

    loaded = load_weights(weights)
    if not loaded.card.seg_classes:
        raise ValueError(f"{weights}: the fusion needs weights with a segmentation decoder (these have none)")
    cal_seeds = [CALIBRATION_SEED_BASE + seed * 1000 + k for k in range(pairs)]
    val_seeds = [VALIDATION_SEED_BASE + seed * 1000 + k for k in range(pairs)]
    xc, yc = render_features(loaded, cal_seeds, "fusion-calibration", seed, work)
    xv, yv = render_features(loaded, val_seeds, "fusion-validation", seed, work)
    scaler = StandardScaler().fit(xc)
    clf = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(xc), yc)
    pc = clf.predict_proba(scaler.transform(xc))[:, 1]
    pv = clf.predict_proba(scaler.transform(xv))[:, 1]
    classifier_auc = float(roc_auc_score(yv, 1 / (1 + np.exp(-xv[:, 0]))))
    fused_auc = float(roc_auc_score(yv, pv))
    used = fused_auc >= classifier_auc + min_gain
    fusion = {
        "features": list(FEATURES),
        "mean": scaler.mean_.tolist(),
        "scale": scaler.scale_.tolist(),
        "coef": clf.coef_[0].tolist(),
        "intercept": float(clf.intercept_[0]),
        "threshold": float(youden_threshold(yc, pc)),
        "used": bool(used),
        "fitted_on": f"{len(yc)} renders of {pairs} held-out calibration phantoms (seeds {cal_seeds[0]}-{cal_seeds[-1]})",
        "compared_on": f"{len(yv)} renders of {pairs} held-out validation phantoms",
        "validation_auc": {"classifier": classifier_auc, "fused": fused_auc},
        "rule": f"the fused probability is the reported call only when its validation AUC exceeds the "
        f"classifier's by at least {min_gain}",
        "command": "python -m model.training.fusion_fit " + " ".join(sys.argv[1:]),
    }
    card = read_card(weights)
    card.segmentation = {**card.segmentation, "fusion": fusion}
    write_bytes_atomic(Path(weights) / CARD_FILE, (json.dumps(card.to_dict(), indent=2) + "\n").encode())
    return fusion


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.training.fusion_fit", description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument("--pairs", type=int, default=64, help="calibration pairs (and as many validation pairs)")
    p.add_argument("--seed", type=int, default=2026, help="the trainer's --seed (seed ranges of its held-out sets)")
    p.add_argument("--min-gain", type=float, default=0.01, help="validation AUC gain needed to use the fusion")
    p.add_argument("--work", type=Path, help="anatomy bank folder (default: the weights' checkpoints/anatomy)")
    args = p.parse_args(argv)
    work = args.work or args.weights / "checkpoints" / "anatomy"
    try:
        fusion = fit(args.weights, args.pairs, args.seed, args.min_gain, work)
    except (ValueError, OSError, GloResNetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    auc = fusion["validation_auc"]
    print(
        f"fusion: validation AUC classifier {auc['classifier']:.3f}, fused {auc['fused']:.3f}; "
        f"{'used' if fusion['used'] else 'recorded only'}; threshold {fusion['threshold']:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
