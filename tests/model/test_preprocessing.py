"""THE preprocessing equals the authors' scipy.ndimage.zoom(order=1) + z-score (METHOD.md)."""

import numpy as np
import pytest
import scipy.ndimage
import torch

from model.preprocessing import (
    CROP_STRIDE,
    PreprocessConfig,
    crop_box,
    preprocess,
    preprocess_with_box,
    resample_to_grid,
)
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
        PreprocessConfig.from_dict({**cfg.to_dict(), "resize_mode": "area"})
    with pytest.raises(ValueError, match="missing"):
        d = cfg.to_dict()
        d.pop("eps")
        PreprocessConfig.from_dict(d)
    with pytest.raises(ValueError, match="interpolation"):
        PreprocessConfig(interpolation="nearest")


def test_cards_written_before_the_crop_option_read_as_whole_field_of_view():
    d = PreprocessConfig(target_shape=(64, 64, 64)).to_dict()
    del d["crop"], d["crop_margin"]
    cfg = PreprocessConfig.from_dict(d)
    assert cfg.crop == "none" and cfg.target_shape == (64, 64, 64)
    with pytest.raises(ValueError, match="crop"):
        PreprocessConfig(crop="brain")
    with pytest.raises(ValueError, match="crop_margin"):
        PreprocessConfig(crop="head", crop_margin=0.9)


def _head_in_a_wide_field(shape=(60, 50, 40), centre=(24, 25, 20), radii=(12, 10, 8)):
    rng = np.random.default_rng(3)
    idx = np.indices(shape).astype(np.float32)
    r = sum(((idx[i] - centre[i]) / radii[i]) ** 2 for i in range(3))
    return (np.where(r <= 1, 100.0, 0.0) + rng.normal(0, 1, shape)).astype(np.float32)


def test_head_crop_is_the_head_box_plus_margin_and_resamples_only_it():
    data = _head_in_a_wide_field()
    cfg = PreprocessConfig(target_shape=(16, 16, 16), crop="head", crop_margin=0.1)
    box = crop_box(data, cfg)
    # head box: centre +- radius (sizes 25, 21, 17), widened by round(0.1 x size) per side, found
    # on every CROP_STRIDE-th voxel: the full-resolution box (10-39, 13-38, 10-31) to within the stride
    exact = [(10, 39), (13, 38), (10, 31)]
    for b, (lo, hi) in zip(box, exact):
        assert lo - CROP_STRIDE <= b.start <= lo + 1 and hi - 1 <= b.stop <= hi + CROP_STRIDE, (box, exact)
    head = _head_in_a_wide_field() > 50
    assert head[box].sum() == head.sum()  # nothing of the head is cut off
    x, same = preprocess_with_box(data, cfg)
    assert same == box
    np.testing.assert_allclose(x.numpy(), preprocess(data[box], PreprocessConfig(target_shape=(16, 16, 16))).numpy())
    # the whole field of view for "none"; the head fills far more of the grid with the crop
    assert crop_box(data, PreprocessConfig()) == tuple(slice(0, n) for n in data.shape)
    wide = preprocess(data, PreprocessConfig(target_shape=(16, 16, 16)))[0, 0].numpy()
    assert (x[0, 0].numpy() > 0).mean() > 2 * (wide > 0).mean()


def test_head_crop_of_a_constant_volume_is_the_whole_volume():
    cfg = PreprocessConfig(target_shape=(8, 8, 8), crop="head")
    assert crop_box(np.zeros((9, 10, 11), np.float32), cfg) == (slice(0, 9), slice(0, 10), slice(0, 11))


def test_maps_from_a_cropped_grid_land_back_inside_the_box():
    """Grad-CAM of crop="head" weights: the grid's corners map onto the box's corners, 0 outside."""
    data = _head_in_a_wide_field()
    cfg = PreprocessConfig(target_shape=(16, 16, 16), crop="head", crop_margin=0.1)
    _, box = preprocess_with_box(data, cfg)
    grid = np.zeros((16, 16, 16), np.float32)
    grid[0, 0, 0], grid[-1, -1, -1] = 1.0, 2.0
    back = resample_to_grid(grid, data.shape, cfg, box)
    assert back.shape == data.shape
    lo = tuple(b.start for b in box)
    hi = tuple(b.stop - 1 for b in box)
    assert back[lo] == pytest.approx(1.0) and back[hi] == pytest.approx(2.0)
    outside = np.ones(data.shape, bool)
    outside[box] = False
    assert not back[outside].any()
