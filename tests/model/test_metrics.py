"""The card's decision threshold from Youden's J (model.training.metrics.youden_threshold)."""

import numpy as np
import pytest

from model.training.metrics import binary_metrics, youden_threshold


def test_youden_threshold_separates_perfectly_separable_scores_between_the_classes():
    labels = [0, 0, 0, 1, 1, 1]
    probs = [0.05, 0.10, 0.20, 0.30, 0.40, 0.90]
    t = youden_threshold(labels, probs)
    assert t == 0.25  # halfway between the highest normal and the lowest injured score
    m = binary_metrics(labels, probs, threshold=t)
    assert m["sensitivity"] == 1.0 and m["specificity"] == 1.0


def test_youden_threshold_maximises_sensitivity_plus_specificity_on_seeded_overlapping_scores():
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(200, int), np.ones(200, int)]
    probs = np.clip(np.r_[rng.normal(0.2, 0.1, 200), rng.normal(0.45, 0.15, 200)], 0, 1)
    t = youden_threshold(labels, probs)
    best = binary_metrics(labels, probs, threshold=t)
    j = best["sensitivity"] + best["specificity"]
    for other in np.linspace(0.05, 0.95, 91):
        m = binary_metrics(labels, probs, threshold=other)
        assert m["sensitivity"] + m["specificity"] <= j + 1e-9
    assert 0.2 < t < 0.45  # between the two class means, not the default 0.5


def test_youden_threshold_is_clipped_and_needs_both_classes():
    assert youden_threshold([0, 1], [0.001, 0.002]) == 0.05
    with pytest.raises(ValueError, match="both classes"):
        youden_threshold([1, 1], [0.2, 0.8])
