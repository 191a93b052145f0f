"""``python -m model.train``: train GloResNet from a manifest and write a weights folder the app loads.

This first protocol (issue 2) trains once on a subject-level stratified training split and scores
the held-out subjects with TTA (paper Eq. 12). There is no model selection: the epoch count is fixed
in advance, so the held-out metrics are not optimistic. The weights written are those of the model
that was scored. Loss: class-weighted soft-label cross-entropy (Eq. 11) with mixup on z-scored
volumes (Eq. 9) and random left-right flips. Optimiser AdamW with cosine annealing (paper 4.2).

Output folder: ``model.safetensors`` + ``model_card.json`` (what the app loads), ``config.json``
(resolved settings and the exact command), ``holdout_predictions.csv``, ``training_log.csv``.

Example::

    python -m model.train --manifest cohort/manifest.csv --out runs/demo --epochs 12
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, recall_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from tqdm import tqdm

from model.checkpoint import CARD_FILE, load_medicalnet_encoder, new_card, save_weights
from model.dataset import ManifestError, class_weights, preprocess_cases, read_manifest
from model.errors import GloResNetError
from model.fileio import write_bytes_atomic
from model.inference import flip_lr, select_device, tta_probabilities
from model.network import resnet10
from model.preprocessing import PreprocessConfig

log = logging.getLogger("model.train")


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float, prob: float, generator: torch.Generator):
    """Mixup (paper Eq. 9): x~ = lam x_i + (1 - lam) x_j, y~ likewise, lam ~ Beta(alpha, alpha).

    Applied to the whole batch with probability ``prob`` (else returned unchanged).

    Parameters
    ----------
    x : torch.Tensor, shape (N, C, X, Y, Z)
        z-scored volumes.
    y : torch.Tensor, shape (N, K)
        Soft (one-hot) labels.

    Returns
    -------
    x_mixed, y_mixed, lam : tensors of the same shapes, and the lambda used (1.0 when not applied).
    """
    if prob <= 0 or alpha <= 0 or torch.rand((), generator=generator).item() >= prob:
        return x, y, 1.0
    lam = _beta_sample(alpha, generator)
    perm = torch.randperm(x.shape[0], generator=generator)
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm], lam


def _beta_sample(alpha: float, generator: torch.Generator) -> float:
    """Beta(alpha, alpha) sample from the seeded generator (NumPy Generator seeded from it)."""
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator).item())
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def weighted_soft_ce(logits: torch.Tensor, y_soft: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Class-weighted soft-label cross-entropy (paper Eq. 11).

    L = -(1/N) sum_i sum_k w_k y_ik log softmax(z_i)_k

    Parameters
    ----------
    logits : (N, K); y_soft : (N, K) rows summing to 1; weights : (K,)
    """
    return -(weights[None, :] * y_soft * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def random_flip_lr(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Flip each volume of an (N, C, X, Y, Z) RAS+ batch left-right with probability ``p``."""
    mask = torch.rand(x.shape[0], generator=generator) < p
    if mask.any():
        x = x.clone()
        x[mask] = flip_lr(x[mask])
    return x


def predict_tta(model: torch.nn.Module, inputs: torch.Tensor, device, batch_size: int = 4) -> np.ndarray:
    """P(injury) with TTA (Eq. 12) for preprocessed inputs (N, 1, X, Y, Z); returns (N,) float."""
    model.eval()
    out = []
    for start in range(0, len(inputs), batch_size):
        p_identity, p_flipped = tta_probabilities(model, inputs[start:start + batch_size].to(device))
        out.append(0.5 * (p_identity + p_flipped))
    return np.concatenate(out) if out else np.empty(0)


def binary_metrics(labels: np.ndarray, probs: np.ndarray, threshold: float = 0.5) -> dict:
    """Accuracy, sensitivity, specificity, F1, MCC (scikit-learn) at ``threshold`` and AUC."""
    labels = np.asarray(labels).astype(int)
    pred = (np.asarray(probs) >= threshold).astype(int)
    metrics = {
        "n": int(len(labels)),
        "n_injury": int(labels.sum()),
        "accuracy": float(accuracy_score(labels, pred)),
        "sensitivity": float(recall_score(labels, pred, pos_label=1, zero_division=0)),
        "specificity": float(recall_score(labels, pred, pos_label=0, zero_division=0)),
        "f1": float(f1_score(labels, pred, zero_division=0)),
        "mcc": float(matthews_corrcoef(labels, pred)),
    }
    metrics["auc"] = float(roc_auc_score(labels, probs)) if len(set(labels.tolist())) == 2 else None
    return metrics


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--manifest", required=True, type=Path, help="CSV with path,label[,subject]")
    p.add_argument("--out", required=True, type=Path, help="output folder (weights + model card)")
    p.add_argument("--epochs", type=int, default=150, help="fixed number of epochs (paper: 150)")
    p.add_argument("--batch-size", type=int, default=32, help="paper: 32")
    p.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate (authors' code: 2e-3)")
    p.add_argument("--min-lr", type=float, default=1e-5, help="cosine annealing floor")
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--mixup-alpha", type=float, default=1.0, help="Beta(alpha, alpha) (Eq. 9)")
    p.add_argument("--mixup-prob", type=float, default=0.5, help="probability a batch is mixed (paper: 0.5)")
    p.add_argument("--holdout-fraction", type=float, default=0.2, help="share of subjects held out for scoring")
    p.add_argument("--input-size", type=int, default=128, help="network input grid (cubic); the card records it")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--pretrained", type=Path, help="MedicalNet ResNet-10 checkpoint to initialise the encoder")
    p.add_argument("--name", default="GloResNet")
    p.add_argument("--version", default="0.1.0")
    p.add_argument("--demonstration", action="store_true", help="mark the weights as demonstration-only")
    p.add_argument("--data-description", default="", help="what the training data is (goes into the card)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing weights folder")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return train(args, argv)
    except (GloResNetError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def train(args: argparse.Namespace, argv: list[str]) -> int:
    if (args.out / CARD_FILE).exists() and not args.overwrite:
        raise GloResNetError(f"{args.out}: already holds a model card; use --overwrite or another --out")
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    device = select_device(args.device)
    cfg = PreprocessConfig(target_shape=(args.input_size,) * 3)
    cases = read_manifest(args.manifest)
    labels = np.array([c.label for c in cases])
    groups = np.array([c.subject for c in cases])
    n_splits = max(2, int(round(1 / args.holdout_fraction)))
    n_subjects_min = min(len(set(groups[labels == k])) for k in (0, 1))
    if n_subjects_min < n_splits:
        raise ManifestError(f"{args.manifest}: {n_subjects_min} subject(s) in the smaller class; need at least {n_splits}")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=args.seed)
    train_idx, test_idx = next(splitter.split(np.zeros(len(cases)), labels, groups))
    log.info("%d scans (%d injury), %d subjects; training on %d, holding out %d (subject-level, stratified)",
             len(cases), labels.sum(), len(set(groups)), len(train_idx), len(test_idx))

    t0 = time.perf_counter()
    inputs, problems = preprocess_cases(cases, cfg, progress=lambda it: tqdm(it, desc="preprocess (once)", unit="scan"))
    if problems:
        raise ManifestError("unreadable scans: " + "; ".join(problems))
    log.info("preprocessed %d scans in %.1f s (cached for all epochs)", len(cases), time.perf_counter() - t0)

    model = resnet10()
    pretrained_info = None
    if args.pretrained:
        pretrained_info = load_medicalnet_encoder(model, args.pretrained)
        log.info("encoder initialised from %s (sha256 %s, %s)", args.pretrained,
                 pretrained_info["sha256"][:12], pretrained_info["known_as"] or "not a known MedicalNet file")
    model.to(device)
    weights = torch.as_tensor(class_weights(labels[train_idx]), device=device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = int(np.ceil(len(train_idx) / args.batch_size))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * steps_per_epoch, eta_min=args.min_lr)
    y_all = F.one_hot(torch.as_tensor(labels), 2).float()
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.as_tensor(train_idx)[torch.randperm(len(train_idx), generator=gen)]
        losses = []
        bar = tqdm(range(0, len(order), args.batch_size), desc=f"epoch {epoch}/{args.epochs}", unit="batch", leave=False)
        for start in bar:
            idx = order[start:start + args.batch_size]
            x = random_flip_lr(inputs[idx], gen)
            x, y, _ = mixup(x, y_all[idx], args.mixup_alpha, args.mixup_prob, gen)
            loss = weighted_soft_ce(model(x.to(device)), y.to(device), weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{loss.item():.3f}")
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "lr": sched.get_last_lr()[0]})
        log.info("epoch %d/%d  loss %.4f  lr %.2e", epoch, args.epochs, history[-1]["loss"], history[-1]["lr"])

    probs = predict_tta(model, inputs[test_idx], device)
    metrics = binary_metrics(labels[test_idx], probs)
    metrics["evaluation"] = (f"held-out subjects ({len(test_idx)} scans, {100 / n_splits:.0f}% of subjects, "
                             "stratified, subject-level), TTA, threshold 0.5; fixed epoch count, no model selection")
    log.info("held-out: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float)))
    command = "python -m model.train " + " ".join(shlex.quote(a) for a in argv)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    card = new_card(
        args.name, args.version, cfg, demonstration=args.demonstration, metrics=metrics,
        training={
            "command": command,
            "data": args.data_description or f"manifest {args.manifest} ({len(cases)} scans)",
            "n_scans": len(cases), "n_subjects": int(len(set(groups))), "n_injury": int(labels.sum()),
            "n_train": int(len(train_idx)), "n_holdout": int(len(test_idx)),
            "seed": args.seed, "epochs": args.epochs, "batch_size": args.batch_size, "optimizer": "AdamW",
            "lr": args.lr, "min_lr": args.min_lr, "weight_decay": args.weight_decay, "schedule": "cosine",
            "loss": "class-weighted soft-label cross-entropy (Eq. 11)",
            "mixup": {"alpha": args.mixup_alpha, "prob": args.mixup_prob},
            "augmentation": "random left-right flip p=0.5",
            "init": (f"MedicalNet encoder {pretrained_info['sha256']}" if pretrained_info
                     else "random (Kaiming normal; head N(0, 0.01))"),
            "model_selection": "none (fixed epochs)",
            "device": str(device),
            "wall_time_s": round(time.perf_counter() - t0, 1),
        },
    )
    save_weights(args.out, model, card)
    write_bytes_atomic(args.out / "config.json", (json.dumps({"command": command, **config}, indent=2) + "\n").encode())
    write_bytes_atomic(args.out / "holdout_predictions.csv", _csv(
        ["path", "subject", "label", "p_injury"],
        [[str(cases[i].path), cases[i].subject, int(labels[i]), f"{p:.6f}"] for i, p in zip(test_idx, probs)]))
    write_bytes_atomic(args.out / "training_log.csv", _csv(
        ["epoch", "loss", "lr"], [[h["epoch"], f"{h['loss']:.6f}", f"{h['lr']:.3e}"] for h in history]))
    print(f"wrote {args.out} (held-out AUC {metrics['auc']}, accuracy {metrics['accuracy']:.3f})")
    return 0


def _csv(header: list, rows: list) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


if __name__ == "__main__":
    sys.exit(main())
