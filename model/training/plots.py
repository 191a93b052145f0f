"""Figures of a training run (matplotlib, Agg canvas; no pyplot, so no GUI backend is touched).

ROC curves per fold and pooled out-of-fold, confusion matrices, training curves, and a t-SNE of
the 512-D penultimate features (paper Fig. 3; scikit-learn ``TSNE``). Each writes one PNG
atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.manifold import TSNE
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

from model.fileio import atomic_output
from model.vocabulary import CLASSES

CLASS_NAMES = CLASSES


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    return path


def roc_figure(folds: list[tuple[np.ndarray, np.ndarray]], pooled: tuple[np.ndarray, np.ndarray], path: Path) -> Path:
    """ROC of each fold (thin) and of the pooled out-of-fold predictions (thick)."""
    fig = Figure(figsize=(5.2, 5))
    ax = fig.add_subplot()
    for k, (y, p) in enumerate(folds, start=1):
        if len(np.unique(y)) == 2:
            fpr, tpr, _ = roc_curve(y, p)
            ax.plot(fpr, tpr, lw=1, alpha=0.6, label=f"fold {k} (AUC {roc_auc_score(y, p):.2f})")
    y, p = pooled
    if len(np.unique(y)) == 2:
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, lw=2.5, color="black", label=f"pooled out-of-fold (AUC {roc_auc_score(y, p):.2f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="ROC, cross-validated", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def confusion_figure(
    folds: list[tuple[np.ndarray, np.ndarray]],
    pooled: tuple[np.ndarray, np.ndarray],
    path: Path,
    threshold: float = 0.5,
) -> Path:
    """Confusion matrices at ``threshold``: pooled out-of-fold and one per fold."""
    panels = [("pooled", pooled)] + [(f"fold {k}", f) for k, f in enumerate(folds, start=1)]
    fig = Figure(figsize=(2.6 * len(panels), 2.8))
    for i, (name, (y, p)) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        cm = confusion_matrix(y, (np.asarray(p) >= threshold).astype(int), labels=[0, 1])
        ax.imshow(cm, cmap="Blues")
        for (r, c), v in np.ndenumerate(cm):
            ax.text(c, r, str(v), ha="center", va="center", color="black", fontsize=11)
        ax.set_xticks([0, 1], CLASS_NAMES, fontsize=8)
        ax.set_yticks([0, 1], CLASS_NAMES if i == 0 else ["", ""], fontsize=8)
        ax.set_title(name, fontsize=9)
        if i == 0:
            ax.set_ylabel("true")
        ax.set_xlabel("predicted")
    return _save(fig, path)


def training_curves_figure(histories: dict[str, list[dict]], path: Path) -> Path:
    """Training loss per epoch for every fold (and the final model)."""
    fig = Figure(figsize=(6, 3.6))
    ax = fig.add_subplot()
    for name, hist in histories.items():
        if hist:
            ax.plot([h["epoch"] for h in hist], [h["loss"] for h in hist], marker="o", ms=3, label=name)
    ax.set(xlabel="epoch", ylabel="training loss (Eq. 11, with mixup)", title="Training curves")
    ax.legend(fontsize=8)
    return _save(fig, path)


def tsne_figure(features: np.ndarray, labels: np.ndarray, path: Path, seed: int = 0) -> Path:
    """t-SNE (scikit-learn) of out-of-fold 512-D features coloured by label (paper Fig. 3)."""
    features = np.asarray(features, dtype=np.float64)
    perplexity = float(max(2, min(30, (len(features) - 1) // 3)))
    emb = TSNE(n_components=2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(features)
    fig = Figure(figsize=(5, 4.4))
    ax = fig.add_subplot()
    for label, colour in ((0, "#3b7dd8"), (1, "#d8473b")):
        sel = np.asarray(labels) == label
        ax.scatter(emb[sel, 0], emb[sel, 1], s=18, c=colour, label=CLASS_NAMES[label], alpha=0.8)
    ax.set(title="t-SNE of out-of-fold 512-D features", xticks=[], yticks=[])
    ax.legend(fontsize=8)
    return _save(fig, path)
