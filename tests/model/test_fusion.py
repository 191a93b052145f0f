"""The fused injury call (issue 28 §3): features, the logistic model, its fit and its use in analysis."""

import json
import shutil

import numpy as np
import pytest

from model.checkpoint import load_weights, read_card
from model.fusion import FEATURES, FusionModel, features


def _labels(ventricles: int, cysts: int = 0) -> np.ndarray:
    lab = np.zeros((10, 10, 10), np.uint8)
    lab[1:9, 1:9, 1:9] = 3  # 512 voxels of white matter
    lab[1:9, 1:9, 1] = 2
    lab.flat[np.flatnonzero(lab == 3)[:ventricles]] = 5
    lab.flat[np.flatnonzero(lab == 3)[:cysts]] = 10
    return lab


def test_features_are_volume_ratios_independent_of_the_grid():
    f = features(0.5, _labels(64))
    assert f.shape == (len(FEATURES),)
    assert f[0] == pytest.approx(0.0)  # logit(0.5)
    assert f[1] == pytest.approx(64 / 512)  # ventricles / intracranial volume
    # the same anatomy on a grid twice as fine in every axis gives the same features
    fine = _labels(64).repeat(2, 0).repeat(2, 1).repeat(2, 2)
    np.testing.assert_allclose(features(0.5, fine), f)
    assert features(0.5, _labels(64, cysts=10))[4] > f[4] == 0.0


def test_fusion_model_probability_and_drivers():
    m = FusionModel(
        mean=np.zeros(6),
        scale=np.ones(6),
        coef=np.array([1.0, 4.0, 0, 0, 0, 0]),
        intercept=-1.0,
        threshold=0.4,
        used=True,
    )
    f = np.array([0.0, 0.5, 0, 0, 0, 0])
    assert m.probability(f) == pytest.approx(1 / (1 + np.exp(-(-1.0 + 2.0))))
    drivers = m.drivers(f)
    assert drivers[0]["feature"] == "ventricles_fraction" and drivers[0]["contribution"] == pytest.approx(2.0)
    assert drivers[0]["name"] == "ventricle size"
    assert FusionModel.from_card({"features": ["other"]}) is None


@pytest.mark.slow
def test_fit_records_the_fusion_and_analysis_reports_what_drives_the_call(seg_weights, tmp_path):
    from model.inference import analyse
    from model.simulation.phantom import make_phantom, to_nifti
    from model.training.fusion_fit import main
    from model.volume import volume_from_image

    weights = tmp_path / "w"
    shutil.copytree(seg_weights, weights)
    sha = read_card(weights).weights_sha256
    assert main(["--weights", str(weights), "--pairs", "3", "--min-gain", "-1", "--work", str(tmp_path / "bank")]) == 0
    card = read_card(weights)
    fusion = card.segmentation["fusion"]
    assert card.weights_sha256 == sha  # the weights are untouched
    assert fusion["features"] == list(FEATURES) and fusion["used"] is True
    assert set(fusion["validation_auc"]) == {"classifier", "fused"}
    vol = volume_from_image(to_nifti(make_phantom(7, True, spacing_mm=2.5), "LAS"), "p.nii.gz")
    result = analyse(vol, load_weights(weights), with_cam=False)
    assert result.p_classifier is not None
    assert result.decision_threshold == pytest.approx(fusion["threshold"])
    d = result.to_dict()
    assert d["call"].startswith("fused") and len(d["call_drivers"]) == len(FEATURES)
    json.dumps(d)  # JSON-ready
