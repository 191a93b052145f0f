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


def test_paired_bootstrap_of_identical_scores_is_exactly_zero():
    from model.training.metrics import paired_bootstrap

    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 20)
    p = rng.random(40)
    out = paired_bootstrap(y, p, p, groups=np.repeat(np.arange(10), 4), n_boot=200)
    assert out["auc"]["difference"] == 0.0 and out["auc"]["ci95"] == [0.0, 0.0]
    assert out["auc"]["p_b_better"] == 0.0 and out["n_boot_used"] == 200


def test_paired_bootstrap_finds_a_better_ranking_and_its_interval_excludes_zero():
    from model.training.metrics import paired_bootstrap

    rng = np.random.default_rng(1)
    y = np.array([0, 1] * 30)
    noisy = np.clip(0.5 + 0.15 * (y - 0.5) + 0.3 * rng.standard_normal(60), 0, 1)
    clean = np.clip(0.5 + 0.6 * (y - 0.5) + 0.1 * rng.standard_normal(60), 0, 1)
    out = paired_bootstrap(y, noisy, clean, thresholds=(0.5, 0.5), n_boot=300)
    d = out["auc"]
    assert d["b"] > d["a"] and d["difference"] == pytest.approx(d["b"] - d["a"])
    assert 0 < d["ci95"][0] <= d["difference"] <= d["ci95"][1] and d["p_b_better"] > 0.99
    reversed_ = paired_bootstrap(y, clean, noisy, n_boot=300)["auc"]
    assert reversed_["difference"] == pytest.approx(-d["difference"]) and reversed_["ci95"][1] < 0


def test_paired_bootstrap_refuses_unpaired_input():
    from model.training.metrics import paired_bootstrap

    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap([0, 1, 1], [0.1, 0.9, 0.8], [0.2, 0.7])
    with pytest.raises(ValueError, match="both classes"):
        paired_bootstrap([1, 1], [0.1, 0.9], [0.2, 0.7])
