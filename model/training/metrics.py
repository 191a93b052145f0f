"""Classification metrics for the cross-validation report (scikit-learn), with bootstrap intervals.

Sensitivity = recall of the injury class, specificity = recall of the normal class, MCC =
Matthews correlation coefficient, AUC = area under the ROC curve of P(injury). The 95% intervals
are percentile bootstrap intervals over subjects (resampling with replacement, seeded).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, recall_score, roc_auc_score, roc_curve

METRICS = ("accuracy", "sensitivity", "specificity", "f1", "mcc", "auc")


def binary_metrics(labels, probs, threshold: float = 0.5) -> dict:
    """Accuracy, sensitivity, specificity, F1, MCC at ``threshold``, and AUC (None with one class).

    Parameters
    ----------
    labels : array-like of int, shape (N,)
        0 normal, 1 injury.
    probs : array-like of float, shape (N,)
        P(injury).
    """
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, dtype=float)
    pred = (probs >= threshold).astype(int)
    out = {
        "n": int(len(labels)),
        "n_injury": int(labels.sum()),
        "accuracy": float(accuracy_score(labels, pred)),
        "sensitivity": float(recall_score(labels, pred, pos_label=1, zero_division=0)),
        "specificity": float(recall_score(labels, pred, pos_label=0, zero_division=0)),
        "f1": float(f1_score(labels, pred, zero_division=0)),
        "mcc": float(matthews_corrcoef(labels, pred)),
    }
    out["auc"] = float(roc_auc_score(labels, probs)) if len(np.unique(labels)) == 2 else None
    return out


def youden_threshold(labels, probs, bounds: tuple = (0.05, 0.95)) -> float:
    """The P(injury) threshold that maximises Youden's J = sensitivity + specificity - 1.

    Youden (Cancer 1950); the ROC curve is scikit-learn's ``roc_curve``. A case is called injured
    when ``p >= threshold``. The threshold returned lies halfway between the score at the optimum
    and the next lower score (so small shifts do not flip the calibration cases), is clipped to
    ``bounds`` and rounded to 3 decimals; among equal J the one nearest 0.5 wins.

    Parameters
    ----------
    labels : array-like of int, shape (N,)
        0 normal, 1 injury; both classes present.
    probs : array-like of float, shape (N,)
        P(injury) in [0, 1].

    Raises
    ------
    ValueError
        Only one class in ``labels``.
    """
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, dtype=float)
    if len(np.unique(labels)) != 2:
        raise ValueError("Youden's J needs both classes among the calibration cases")
    fpr, tpr, thr = roc_curve(labels, probs, drop_intermediate=False)
    j = tpr - fpr
    scores = np.unique(probs)  # ascending
    best, best_key = 0.5, None
    for k in np.flatnonzero(np.isclose(j, j.max())):
        t = float(min(thr[k], 1.0))
        lower = scores[scores < t]
        mid = 0.5 * (t + lower[-1]) if lower.size else t
        key = abs(mid - 0.5)
        if best_key is None or key < best_key:
            best, best_key = mid, key
    return round(float(np.clip(best, *bounds)), 3)


def subject_resamples(labels: np.ndarray, groups, n_boot: int, seed: int):
    """Row indices of ``n_boot`` seeded bootstrap resamples of subjects (all rows of a drawn
    subject together; ``groups=None``: each row its own subject). Resamples holding one class
    only are drawn but not yielded.

    Parameters
    ----------
    labels : (N,) int array; groups : array-like, shape (N,), optional

    Yields
    ------
    numpy.ndarray of int, shape (M,)
    """
    groups = np.arange(len(labels)) if groups is None else np.asarray(groups)
    unique = np.unique(groups)
    rows_of = {g: np.flatnonzero(groups == g) for g in unique}
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        idx = np.concatenate([rows_of[g] for g in rng.choice(unique, size=len(unique), replace=True)])
        if len(np.unique(labels[idx])) == 2:
            yield idx


def bootstrap_ci(labels, probs, groups=None, n_boot: int = 2000, seed: int = 0, threshold: float = 0.5) -> dict:
    """Percentile bootstrap 95% interval of every metric, resampling subjects.

    Parameters
    ----------
    groups : array-like, optional
        Subject of each row; all rows of a subject are resampled together.

    Returns
    -------
    dict
        ``{metric: [low, high]}`` (None where a resample never had both classes).
    """
    labels = np.asarray(labels).astype(int)
    probs = np.asarray(probs, dtype=float)
    samples: dict[str, list[float]] = {m: [] for m in METRICS}
    for idx in subject_resamples(labels, groups, n_boot, seed):
        m = binary_metrics(labels[idx], probs[idx], threshold)
        for key in METRICS:
            samples[key].append(m[key])
    return {
        k: ([float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if v else None) for k, v in samples.items()
    }


def summarise_folds(per_fold: list[dict]) -> dict:
    """Mean and sample SD (ddof=1) over folds of every metric: ``{metric: {"mean", "sd"}}``."""
    out = {}
    for key in METRICS:
        values = [f[key] for f in per_fold if f.get(key) is not None]
        out[key] = {
            "mean": float(np.mean(values)) if values else None,
            "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None,
        }
    return out


def paired_bootstrap(
    labels, probs_a, probs_b, groups=None, thresholds=(0.5, 0.5), n_boot: int = 2000, seed: int = 0
) -> dict:
    """Paired percentile-bootstrap comparison of two score sets on the same cases (B minus A).

    Both weights are resampled with the *same* subjects in each bootstrap draw, so the interval
    of the difference is far narrower than the two separate intervals suggest (Efron &
    Tibshirani, An Introduction to the Bootstrap, 1993, ch. 16; the usual way to compare two
    ROC AUCs on one set when a DeLong test's case independence does not hold, as with several
    degraded copies of one template).

    Parameters
    ----------
    labels : array-like of int, shape (N,)
        0 normal, 1 injury; both classes present.
    probs_a, probs_b : array-like of float, shape (N,)
        P(injury) of weights A and B for the same N cases, in the same order.
    groups : array-like, shape (N,), optional
        Subject of each case; all cases of a subject are resampled together.
    thresholds : (float, float)
        The decision threshold of A and of B (each weights' own card).

    Returns
    -------
    dict
        ``{metric: {"a", "b", "difference", "ci95": [low, high], "p_b_better"}}`` for every
        metric of :func:`binary_metrics`; ``p_b_better`` is the fraction of resamples in which B
        beats A. ``"n_boot_used"`` counts the resamples with both classes.

    Raises
    ------
    ValueError
        The arrays differ in length, or ``labels`` holds one class only.
    """
    labels = np.asarray(labels).astype(int)
    pa, pb = np.asarray(probs_a, dtype=float), np.asarray(probs_b, dtype=float)
    if not len(labels) == len(pa) == len(pb):
        raise ValueError(f"paired comparison needs equal lengths, got {len(labels)}, {len(pa)}, {len(pb)}")
    if len(np.unique(labels)) != 2:
        raise ValueError("paired comparison needs both classes")
    ta, tb = thresholds
    ma, mb = binary_metrics(labels, pa, ta), binary_metrics(labels, pb, tb)
    diffs: dict[str, list[float]] = {m: [] for m in METRICS}
    for idx in subject_resamples(labels, groups, n_boot, seed):
        ra, rb = binary_metrics(labels[idx], pa[idx], ta), binary_metrics(labels[idx], pb[idx], tb)
        for key in METRICS:
            diffs[key].append(rb[key] - ra[key])
    out: dict = {"n_boot_used": len(diffs["auc"])}
    for key in METRICS:
        d = np.asarray(diffs[key])
        out[key] = {
            "a": ma[key],
            "b": mb[key],
            "difference": mb[key] - ma[key],
            "ci95": [float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))],
            "p_b_better": float(np.mean(d > 0)),
        }
    return out
