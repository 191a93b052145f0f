"""THE preprocessing equals the authors' scipy.ndimage.zoom(order=1) + z-score (METHOD.md)."""

import numpy as np
import pytest
import scipy.ndimage
import torch

from model.preprocessing import PreprocessConfig, preprocess, resample_to_grid
from model.volume import load_volume


def reference(data, shape=(128, 128, 128), eps=1e-8):
    """The authors' code: scipy zoom, order 1, then (x - mean) / (std + eps) over all voxels."""
    zoomed = scipy.ndimage.zoom(data.astype(np.float64), [t / s for t, s in zip(shape, data.shape)], order=1)
    return (zoomed - zoomed.mean()) / (zoomed.std() + eps)


def test_matches_scipy_zoom_and_zscore_on_a_real_template(t2_scan):
    vol = load_volume(t2_scan)
    ours = preprocess(vol.data, PreprocessConfig())
    assert ours.shape == (1, 1, 128, 128, 128) and ours.dtype == torch.float32
    np.testing.assert_allclose(ours[0, 0].numpy(), reference(vol.data), atol=1e-4)


def test_align_corners_false_would_not_match(t2_scan):
    """Guards the setting: the other alignment is off by far more than the tolerance."""
    vol = load_volume(t2_scan)
    t = torch.as_tensor(vol.data)[None, None]
    wrong = torch.nn.functional.interpolate(t, size=(128,) * 3, mode="trilinear", align_corners=False)[0, 0]
    wrong = (wrong - wrong.mean()) / wrong.std(unbiased=False)
    assert np.abs(wrong.numpy() - reference(vol.data)).max() > 0.1


def test_output_is_z_scored_over_all_voxels():
    rng = np.random.default_rng(1)
    x = preprocess(rng.random((20, 30, 25)).astype(np.float32) * 500 + 100, PreprocessConfig(target_shape=(16, 16, 16)))
    assert abs(x.mean().item()) < 1e-5
    assert abs(x.std(unbiased=False).item() - 1) < 1e-4


def test_corners_map_back_onto_the_scan_grid():
    """A map on the network grid resampled back lands on the same world positions (corners fixed)."""
    cfg = PreprocessConfig(target_shape=(16, 16, 16))
    grid = np.zeros((16, 16, 16), np.float32)
    grid[0, 0, 0] = 1.0
    grid[-1, -1, -1] = 2.0
    back = resample_to_grid(grid, (31, 21, 11), cfg)
    assert back[0, 0, 0] == pytest.approx(1.0)
    assert back[-1, -1, -1] == pytest.approx(2.0)


def test_config_round_trip_and_refusals():
    cfg = PreprocessConfig()
    assert PreprocessConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        PreprocessConfig.from_dict({**cfg.to_dict(), "crop": True})
    with pytest.raises(ValueError, match="missing"):
        d = cfg.to_dict()
        d.pop("eps")
        PreprocessConfig.from_dict(d)
    with pytest.raises(ValueError, match="interpolation"):
        PreprocessConfig(interpolation="nearest")
