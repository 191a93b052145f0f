"""TTA (Eq. 12), orientation invariance, Grad-CAM geometry and hook hygiene."""

import nibabel as nib
import numpy as np
import pytest
import torch

from model.checkpoint import load_weights
from model.inference import analyse, analyse_steps, flip_lr
from model.volume import load_volume, volume_from_array
from tests.model.test_volume import ORIENTATIONS, store_as


@pytest.fixture(scope="module")
def loaded(random_weights):
    return load_weights(random_weights)


def test_flip_is_anatomical_left_right():
    """A blob on the patient's left (world x < 0) moves to the right (x > 0), y and z unchanged."""
    data = np.zeros((20, 16, 12), np.float32)
    data[3, 10, 7] = 1.0  # RAS: low i = patient's left
    vol = volume_from_array(data, np.diag([1.0, 1.0, 1.0, 1.0]) @ _centred((20, 16, 12)))
    before = vol.world_mm(np.argwhere(vol.data)[0])
    flipped = flip_lr(torch.as_tensor(vol.data)[None, None])[0, 0].numpy()
    after = vol.world_mm(np.argwhere(flipped)[0])
    np.testing.assert_allclose(after, [-before[0], before[1], before[2]])
    assert before[0] < 0 < after[0]


def _centred(shape):
    a = np.eye(4)
    a[:3, 3] = -(np.asarray(shape) - 1) / 2
    return a


def test_second_pass_sees_the_mirror_image(loaded, t2_scan, monkeypatch):
    seen = []
    original = loaded.model.forward

    def recording_forward(x):
        seen.append(x.detach().clone())
        return original(x)

    monkeypatch.setattr(loaded.model, "forward", recording_forward)
    result = analyse(load_volume(t2_scan), loaded, with_cam=False)
    batch = seen[0]
    torch.testing.assert_close(batch[1], torch.flip(batch[0], dims=(1,)))  # (C, X, Y, Z): X is dim 1
    assert result.probability == pytest.approx(np.mean(result.pass_probabilities))


@pytest.mark.slow
def test_same_anatomy_any_voxel_order_same_probability(loaded, t2_scan, tmp_path):
    ras = load_volume(t2_scan)
    probs = []
    for axcodes in ORIENTATIONS[:5]:
        path = tmp_path / f"{''.join(axcodes)}.nii.gz"
        nib.save(store_as(ras.data, ras.affine, axcodes), path)
        probs.append(analyse(load_volume(path), loaded, with_cam=False).probability)
    assert max(probs) - min(probs) < 1e-4, probs


def test_cam_is_on_the_input_grid_and_affine(loaded, t2_scan):
    vol = load_volume(t2_scan)
    result = analyse(vol, loaded, with_cam=True)
    assert result.heatmap.shape == vol.shape and result.heatmap.dtype == np.float32
    assert 0.0 <= result.heatmap.min() and result.heatmap.max() <= 1.0 and result.heatmap.max() > 0
    np.testing.assert_array_equal(result.affine, vol.affine)
    out = vol.source_image(result.heatmap)
    img = nib.load(t2_scan)
    assert out.shape == img.shape
    np.testing.assert_allclose(out.affine, img.affine)
    # with and without Grad-CAM the probability is the same
    assert analyse(vol, loaded, with_cam=False).probability == pytest.approx(result.probability, abs=1e-5)


def test_cam_is_averaged_with_the_flipped_pass_flipped_back(loaded, monkeypatch):
    """If both passes return the same map, the mean is symmetric only if the flip is undone."""
    import model.inference as inf

    grid = np.zeros((4, 4, 4), np.float32)
    grid[0, 1, 2] = 1.0
    monkeypatch.setattr(inf, "cam_pass", lambda cam, x, target_class: (np.array([0.5, 0.5], np.float32), grid))
    vol = volume_from_array(np.random.default_rng(0).random((32, 32, 32)), np.eye(4))
    result = analyse(vol, loaded, with_cam=True)
    # pass 1 puts weight at x-cell 0, pass 2 (flipped back) at x-cell 3: the two halves balance
    left, right = result.heatmap[:16].sum(), result.heatmap[16:].sum()
    assert left == pytest.approx(right, rel=1e-4)


def test_hooks_and_grad_flags_are_released_every_time_even_when_cancelled(loaded, t2_scan):
    vol = load_volume(t2_scan)
    model = loaded.model
    flags = [p.requires_grad for p in model.parameters()]
    for i in range(4):
        gen = analyse_steps(vol, loaded, with_cam=True)
        for _ in range(i + 1):  # stop after 1, 2, 3, 4 steps
            next(gen)
        gen.close()
        assert not model.layer4._forward_hooks
        assert [p.requires_grad for p in model.parameters()] == flags


def test_head_crop_weights_see_only_the_head_and_map_grad_cam_back_into_its_box(tmp_path, monkeypatch):
    """Weights whose card says crop="head": the heatmap covers the head box and is 0 outside it."""
    import model.inference as inf
    from model.checkpoint import new_card, save_weights
    from model.network import resnet10
    from model.preprocessing import PreprocessConfig, crop_box

    torch.manual_seed(0)
    cfg = PreprocessConfig(target_shape=(32, 32, 32), crop="head", crop_margin=0.1)
    save_weights(tmp_path / "w", resnet10(), new_card("crop-test", "0.0", cfg, demonstration=True, training={}))
    loaded = load_weights(tmp_path / "w")
    assert loaded.card.preprocessing.crop == "head"
    idx = np.indices((60, 50, 40)).astype(np.float32)
    head = ((idx[0] - 24) / 12) ** 2 + ((idx[1] - 25) / 10) ** 2 + ((idx[2] - 20) / 8) ** 2 <= 1
    data = np.where(head, 100.0, 0.0) + np.random.default_rng(0).normal(0, 1, head.shape)
    vol = volume_from_array(data.astype(np.float32), np.eye(4))
    monkeypatch.setattr(
        inf, "cam_pass", lambda cam, x, target_class: (np.array([0.5, 0.5], np.float32), np.ones((4, 4, 4), np.float32))
    )
    result = analyse(vol, loaded, with_cam=True)
    box = crop_box(vol.data, cfg)
    # the head box (10-39, 13-38, 10-31 at full resolution), found on the crop's strided grid
    assert all(lo - 2 <= b.start <= lo + 1 for b, lo in zip(box, (10, 13, 10)))
    assert all(hi - 1 <= b.stop <= hi + 2 for b, hi in zip(box, (39, 38, 31)))
    assert head[box].sum() == head.sum()
    inside = np.zeros(vol.shape, bool)
    inside[box] = True
    np.testing.assert_allclose(result.heatmap[inside], 1.0, atol=1e-5)
    assert not result.heatmap[~inside].any()
