"""The injury call from the classifier and the segmentation together (issue 28 §3).

A logistic model (scikit-learn ``LogisticRegression`` when fitted, applied here with numpy) over

* ``classifier_logit``: log(p / (1 - p)) of the classifier's TTA-mean P(injury) (paper Eq. 12),
* ``ventricles_fraction``: ventricles / intracranial volume,
* ``extracerebral_csf_fraction``: extra-cerebral CSF / intracranial volume,
* ``white_matter_fraction``: white matter (incl. punctate lesions) / brain tissue,
* ``cyst_burden``: log(1 + 10^4 x cyst volume / intracranial volume),
* ``punctate_burden``: log(1 + 10^4 x punctate-lesion volume / intracranial volume),

all computed from the label map by voxel counts, so they do not depend on the voxel size or the
grid (ratios of volumes on one grid) and mean the same on the network grid of a render and on a
real scan's own grid. Fitted on held-out synthetic calibration renders only (never on the real
anatomy set) by :mod:`model.training.fusion_fit`; the card records the coefficients, the feature
standardisation, the threshold, and whether the fused call beat the classifier alone on further
held-out renders (``used``). When it did not, the app reports the classifier's P(injury) and the
fusion is only recorded.

Each feature's contribution to the call is coefficient x standardised value (in log-odds), which
the app and the CSV list as "what drives the call".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model.segmentation import BRAIN_VALUES, CSF, CYST, INTRACRANIAL_VALUES, PUNCTATE, VENTRICLES, WHITE_MATTER

FEATURES = (
    "classifier_logit",
    "ventricles_fraction",
    "extracerebral_csf_fraction",
    "white_matter_fraction",
    "cyst_burden",
    "punctate_burden",
)
#: What the reader sees for each feature.
FEATURE_NAMES = {
    "classifier_logit": "whole-brain classifier",
    "ventricles_fraction": "ventricle size",
    "extracerebral_csf_fraction": "extra-cerebral CSF",
    "white_matter_fraction": "white-matter volume",
    "cyst_burden": "cysts",
    "punctate_burden": "punctate lesions",
}
_EPS = 1e-6


def features(p_classifier: float, labels: np.ndarray) -> np.ndarray:
    """The fusion features of one scan (see the module notes).

    Parameters
    ----------
    p_classifier : float
        TTA-mean P(injury) of the classifier.
    labels : np.ndarray, shape (X, Y, Z), int
        Label values of :mod:`model.segmentation`.

    Returns
    -------
    np.ndarray, shape (len(FEATURES),), float64
    """
    counts = np.bincount(np.asarray(labels, np.int64).ravel(), minlength=12).astype(np.float64)
    icv = max(counts[list(INTRACRANIAL_VALUES)].sum(), 1.0)
    brain = max(counts[list(BRAIN_VALUES)].sum() - counts[VENTRICLES] - counts[CYST], 1.0)
    p = float(np.clip(p_classifier, _EPS, 1 - _EPS))
    return np.array(
        [
            math.log(p / (1 - p)),
            counts[VENTRICLES] / icv,
            counts[CSF] / icv,
            (counts[WHITE_MATTER] + counts[PUNCTATE]) / brain,
            math.log1p(1e4 * counts[CYST] / icv),
            math.log1p(1e4 * counts[PUNCTATE] / icv),
        ]
    )


@dataclass
class FusionModel:
    """A fitted logistic fusion (the card's ``segmentation.fusion``).

    Attributes
    ----------
    mean, scale : np.ndarray, shape (F,)
        Standardisation of the features (scikit-learn ``StandardScaler``).
    coef : np.ndarray, shape (F,)
    intercept : float
    threshold : float
        Decision threshold on the fused probability (Youden's J on the calibration renders).
    used : bool
        Whether the fused probability is the reported call (it beat the classifier alone on
        held-out renders), else it is recorded only.
    """

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float
    used: bool

    @classmethod
    def from_card(cls, d: dict | None) -> FusionModel | None:
        """From the card's ``segmentation.fusion`` dict (None when absent or malformed)."""
        if not d or list(d.get("features", [])) != list(FEATURES):
            return None
        try:
            return cls(
                np.asarray(d["mean"], float),
                np.asarray(d["scale"], float),
                np.asarray(d["coef"], float),
                float(d["intercept"]),
                float(d["threshold"]),
                bool(d.get("used", False)),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def contributions(self, f: np.ndarray) -> np.ndarray:
        """Log-odds contribution of each feature: coef x standardised value, shape (F,)."""
        return self.coef * (np.asarray(f, float) - self.mean) / self.scale

    def probability(self, f: np.ndarray) -> float:
        """Fused P(injury) = sigmoid(intercept + sum of contributions)."""
        z = self.intercept + float(self.contributions(f).sum())
        return float(1.0 / (1.0 + math.exp(-z)))

    def drivers(self, f: np.ndarray) -> list[dict]:
        """What drives the call: ``[{"feature", "name", "value", "contribution"}]`` by |contribution|."""
        c = self.contributions(f)
        rows = [
            {"feature": k, "name": FEATURE_NAMES[k], "value": float(v), "contribution": float(ci)}
            for k, v, ci in zip(FEATURES, f, c)
        ]
        return sorted(rows, key=lambda r: -abs(r["contribution"]))
