"""The weights shipped in resources/ load, say what they are, and analyse the built-in sample."""

import numpy as np

from model import DEFAULT_WEIGHTS_DIR
from model.checkpoint import load_weights
from model.inference import analyse
from model.simulation.phantom import sample_image
from model.volume import volume_from_image


def test_bundled_demo_weights_load_and_declare_themselves():
    loaded = load_weights(DEFAULT_WEIGHTS_DIR)  # verifies the SHA-256 and every card field
    card = loaded.card
    assert card.demonstration is True
    assert card.training["command"].startswith("python -m model.train ")
    assert "simulated" in card.training["data"]
    assert card.training["command"].startswith("python -m model.train --synthetic")
    held_out = card.metrics["held_out_synthetic"]
    assert {"accuracy", "sensitivity", "specificity", "f1", "mcc", "auc", "pointing_game"} <= set(held_out)
    assert card.gradcam_layer == "layer3"  # 4x4x4 at the 64^3 grid
    assert "Research use only" in card.intended_use


def test_bundled_weights_analyse_the_sample_with_a_heatmap_on_its_grid():
    loaded = load_weights(DEFAULT_WEIGHTS_DIR)
    vol = volume_from_image(sample_image())
    result = analyse(vol, loaded)
    assert 0.0 <= result.probability <= 1.0
    assert result.heatmap.shape == vol.shape and np.isfinite(result.heatmap).all()
