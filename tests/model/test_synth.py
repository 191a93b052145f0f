"""The domain-randomised generator (model.simulation.synth) and the synthetic training protocol."""

import json

import numpy as np
import pytest
import torch
from scipy import ndimage

from model.checkpoint import load_weights
from model.preprocessing import PreprocessConfig
from model.simulation.phantom import VENTRICLES, WHITE_MATTER
from model.simulation.synth import CYST, PUNCTATE, AnatomyPair, PairRenderer, anatomy_pair, injury_cells

CFG = PreprocessConfig(target_shape=(48, 48, 48))


@pytest.fixture(scope="module")
def pair():
    return anatomy_pair(11, spacing_mm=2.0)


def test_anatomy_pair_is_seeded_and_differs_only_by_injury(pair):
    again = anatomy_pair(11, spacing_mm=2.0)
    assert np.array_equal(pair.normal, again.normal) and np.array_equal(pair.injured, again.injured)
    assert pair.injury_mask.any(), "the injured map has no injury"
    assert np.array_equal(pair.injury_mask, pair.normal != pair.injured)
    assert pair.normal.dtype == np.uint8 and pair.normal.shape == pair.injured.shape


def test_lesions_get_their_own_render_classes():
    # find a seed with cysts or punctate lesions (the phantom draws a random subset of injuries)
    for seed in range(40):
        p = anatomy_pair(seed, spacing_mm=2.0)
        if p.findings["cysts"] or p.findings["punctate_lesions"]:
            break
    else:
        pytest.fail("no phantom with lesions among 40 seeds")
    codes = set(np.unique(p.injured[p.injury_mask]).tolist())
    assert codes & {CYST, PUNCTATE}, codes
    assert not (set(np.unique(p.normal).tolist()) & {CYST, PUNCTATE}), "lesion classes leaked into the normal map"


def test_same_seed_same_render_other_seed_other_render(pair):
    r = PairRenderer(CFG)
    a, b, c = r.render(pair, 5), r.render(pair, 5), r.render(pair, 6)
    assert torch.equal(a.x, b.x) and torch.equal(a.mask, b.mask)
    assert not torch.equal(a.x, c.x)
    assert a.x.shape == (2, 1, *CFG.target_shape) and a.x.dtype == torch.float32
    # z-scored per image over all voxels, like preprocessing of a real scan (Eq. 4)
    assert torch.allclose(a.x.mean(dim=(1, 2, 3, 4)), torch.zeros(2), atol=1e-4)
    assert torch.allclose(a.x.std(dim=(1, 2, 3, 4), unbiased=False), torch.ones(2), atol=1e-3)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_paired_renders_differ_only_at_the_injury(pair, seed):
    """Same nuisance draw: outside the injury (plus the reach of thick-slice blur) the two renders agree."""
    rend = PairRenderer(CFG).render(pair, seed)
    diff = (rend.raw[0] - rend.raw[1]).abs()
    # the saved mask: network voxels holding injured sub-voxels of the final maps
    injury = rend.mask[1, 0] > 0
    assert injury.any() and rend.y.tolist() == [0, 1]
    assert not (rend.labels[0] != rend.labels[1])[~injury].any(), "the label maps differ outside the mask"
    near = torch.from_numpy(ndimage.binary_dilation(injury.numpy(), iterations=6))
    assert float(diff[~near].max()) < 0.03 * float(rend.raw.max())
    assert float(diff[injury].mean()) > 10 * float(diff[~near].mean()) + 1e-6


def test_head_crop_renders_fill_the_grid_like_a_cropped_scan_and_stay_paired(pair):
    """crop="head" weights train on renders cut to the head box, as preprocessing cuts a real scan."""
    from model.preprocessing import head_object, margin_box

    fills = {}
    for crop in ("none", "head"):
        cfg = PreprocessConfig(target_shape=(48, 48, 48), crop=crop)
        fill = []
        for seed in range(3):
            rend = PairRenderer(cfg).render(pair, seed)
            box = margin_box(head_object(rend.raw[0].numpy()), 0.0)
            fill.append(np.mean([(b.stop - b.start) / 48 for b in box]))
            if crop == "head":
                injury = rend.mask[1, 0] > 0
                assert rend.y.tolist() == [0, 1] and injury.any()
                assert not (rend.labels[0] != rend.labels[1])[~injury].any()
        fills[crop] = float(np.mean(fill))
    # a crop margin of 0.025-0.1 per side leaves the head 0.83-0.95 of each axis
    assert fills["head"] > 0.83 and fills["head"] > fills["none"] + 0.1, fills


def test_class_fractions_are_the_pooled_one_hot_maps():
    """Partial volume: a class filling k of a voxel's 8 sub-voxels weighs k/8 (avg-pooled one-hot)."""
    from model.simulation.synth import N_RENDER_CLASSES, class_fractions

    gen = torch.Generator().manual_seed(0)
    fine = torch.randint(0, N_RENDER_CLASSES, (2, 6, 8, 4), generator=gen)
    w = class_fractions(fine, (3, 4, 2), 2)
    onehot = torch.nn.functional.one_hot(fine, N_RENDER_CLASSES).permute(0, 4, 1, 2, 3).float()
    assert w.shape == (2, N_RENDER_CLASSES, 3, 4, 2)
    assert torch.allclose(w, torch.nn.functional.avg_pool3d(onehot, 2))
    assert torch.allclose(w.sum(dim=1), torch.ones(2, 3, 4, 2))
    # one punctate sub-voxel in a white-matter voxel: 1/8 lesion, 7/8 white matter
    one = torch.full((1, 2, 2, 2), WHITE_MATTER)
    one[0, 1, 0, 1] = PUNCTATE
    w = class_fractions(one, (1, 1, 1), 2)[0, :, 0, 0, 0]
    assert w[PUNCTATE] == 0.125 and w[WHITE_MATTER] == 0.875


def test_small_lesions_render_with_partial_contrast(pair):
    """Supersampled renders mix a lesion into its voxels, as a real scan does; without it a lesion
    voxel is all lesion (the old, all-or-nothing render)."""
    pv, hard = PairRenderer(CFG), PairRenderer(CFG, supersample=1)
    fractions = []
    for r in (pv, hard):
        rend = r.render(pair, 2)
        inj = rend.mask[1, 0] > 0
        d = (rend.raw[1] - rend.raw[0])[inj].abs()
        fractions.append(float((d > 0.5 * d.max()).float().mean()))
    # with partial volume many injury voxels change only partly
    assert fractions[0] < fractions[1], fractions
    with pytest.raises(ValueError, match="supersample"):
        PairRenderer(CFG, supersample=0)


def test_label_follows_the_final_map_not_the_intent(pair):
    """An "injured" variant whose injury is absent from the final map is labelled normal."""
    healed = AnatomyPair(
        pair.normal,
        pair.normal.copy(),
        np.zeros_like(pair.injury_mask),
        pair.spacing_mm,
        pair.pma_weeks,
        pair.findings,
        pair.seed,
    )
    rend = PairRenderer(CFG).render(healed, 3)
    assert rend.y.tolist() == [0, 0] and rend.injury_mm3 == 0.0 and not rend.mask.any()


def test_contrast_prior_keeps_neonatal_t2_order(pair):
    """Across draws: CSF/ventricles brightest, white matter brighter than cortex, punctate lesions dark."""
    from model.simulation.synth import CORTEX, CSF, draw_contrast

    rng = np.random.default_rng(0)
    for _ in range(200):
        mu, sigma = draw_contrast(rng, skull=bool(rng.random() < 0.5))
        assert mu[VENTRICLES] >= mu[WHITE_MATTER] > mu[CORTEX]
        assert mu[CSF] > mu[WHITE_MATTER] > mu[PUNCTATE]
        assert (sigma >= 0).all()


def test_injury_cells_marks_the_feature_grid_cells_holding_injury():
    mask = torch.zeros(1, 1, 16, 16, 16)
    mask[0, 0, 13, 2, 9] = 1
    cells = injury_cells(mask, (4, 4, 4))
    assert cells.shape == (1, 1, 4, 4, 4) and cells.sum() == 1 and cells[0, 0, 3, 0, 2] == 1


@pytest.mark.slow
def test_synthetic_training_end_to_end_with_resume(tmp_path):
    from model.train import main

    out = tmp_path / "run"
    argv = [
        "--synthetic",
        "--out",
        str(out),
        "--subjects",
        "3",
        "--val-subjects",
        "2",
        "--steps",
        "2",
        "--pairs",
        "1",
        "--input-size",
        "32",
        "--workers",
        "0",
        "--eval-every",
        "2",
        "--seed",
        "3",
        "--ood-cases",
        "8",
        "--calibration-subjects",
        "3",
    ]
    assert main(argv + ["--steps-limit", "1"]) == 130  # stopped resumably after step 1
    assert (out / "checkpoints" / "last.pt").is_file() and not (out / "model_card.json").exists()
    assert main(argv + ["--resume"]) == 0
    loaded = load_weights(out)
    assert loaded.card.gradcam_layer == "layer3" and loaded.card.preprocessing.target_shape == (32, 32, 32)
    assert loaded.card.training["command"].startswith("python -m model.train --synthetic")
    # the out-of-distribution gate is fitted for exactly these weights, on fresh renders
    assert loaded.card.ood["weights_sha256"] == loaded.card.weights_sha256 and loaded.card.ood["threshold"] > 0
    assert loaded.ood_tensors is not None and loaded.ood_tensors["precision"].shape == (512, 512)
    assert "renders of the training generator" in loaded.card.ood["data"]
    report = json.loads((out / "metrics.json").read_text())
    metrics, calibration = report["held_out_synthetic"], report["threshold_calibration"]
    assert metrics["n"] == 4 and "auc" in metrics and "pointing_game" in metrics
    # the card's threshold is the one Youden's J chose on the separate calibration pairs, and the
    # held-out metrics are reported at it
    assert calibration["rule"] == "youden" and calibration["n"] == 6
    assert loaded.card.decision_threshold == calibration["decision_threshold"] == metrics["decision_threshold"]
    assert 0.05 <= loaded.card.decision_threshold <= 0.95
    assert loaded.card.indeterminate_band == round(
        min(0.1, 0.2 * min(loaded.card.decision_threshold, 1 - loaded.card.decision_threshold)), 3
    )
    # the segmentation decoder (issue 28): the card records it, and its held-out Dice is the
    # validation set's (the last step's validation, same weights), not the calibration set's
    assert loaded.model.decoder is not None and loaded.card.seg_classes == 10
    history = json.loads(torch.load(out / "checkpoints" / "last.pt", weights_only=True)["history"])
    assert loaded.card.segmentation["held_out_dice"] == pytest.approx(history[-1]["val_dice"])
    fusion = loaded.card.segmentation["fusion"]
    assert set(fusion["validation_auc"]) == {"classifier", "fused"} and isinstance(fusion["used"], bool)
    assert main(argv) == 1  # a finished run is not overwritten without --overwrite


def test_elastic_deformation_is_strong_but_never_folds():
    """The generator's elastic field at its strongest setting: integrated (scaling and squaring),
    its Jacobian determinant stays positive over seeded draws; the same field without
    integration folds (negative Jacobian), which is why it is integrated."""
    import cornucopia as cc

    from model.simulation import synth

    def min_jacobian(steps: int) -> float:
        torch.manual_seed(0)
        t = cc.RandomElasticTransform(
            dmax=synth.ELASTIC_DMAX_FOV,
            shape=synth.ELASTIC_CONTROL_POINTS,
            steps=steps,
            unit="fov",
            order=1,
            returns="flow",
        )
        worst = np.inf
        for _ in range(10):
            f = t(torch.zeros(1, 48, 48, 48)).squeeze()
            f = f.movedim(-1, 0) if f.shape[-1] == 3 else f  # (3, X, Y, Z), voxels
            grad = torch.stack([torch.stack(torch.gradient(f[i]), 0) for i in range(3)], 0)
            jac = grad + torch.eye(3)[:, :, None, None, None]
            worst = min(worst, float(torch.linalg.det(jac.permute(2, 3, 4, 0, 1)).min()))
        return worst

    assert min_jacobian(synth.ELASTIC_STEPS) > 0.0
    assert min_jacobian(0) < 0.0


@pytest.mark.parametrize("module", ["model.training.synth_train", "model.training.train"])
def test_both_trainers_take_crop(module, tmp_path):
    import importlib

    parser = importlib.import_module(module).build_parser()
    assert parser.parse_args(["--out", str(tmp_path), "--crop", "head"]).crop == "head"
    assert parser.parse_args(["--out", str(tmp_path)]).crop == "none"
    with pytest.raises(SystemExit):
        parser.parse_args(["--out", str(tmp_path), "--crop", "brain"])


def test_synthetic_trainer_records_the_crop_in_its_preprocessing(tmp_path):
    from model.training.synth_train import SynthTrainer, build_parser

    args = build_parser().parse_args(["--out", str(tmp_path / "run"), "--crop", "head", "--input-size", "32"])
    cfg = SynthTrainer(args, ["--crop", "head"]).cfg
    assert cfg.crop == "head" and cfg.target_shape == (32, 32, 32)


def test_ema_model_averages_weights_and_batchnorm_statistics():
    """``ema_model``: the first update copies the network; each later one moves every parameter
    and BatchNorm running statistic a fraction (1 - decay) towards the network's."""
    from model.training.synth_train import ema_model

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    ema = ema_model(net, 0.75)
    ema.update_parameters(net)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with torch.no_grad():
        net[0].weight.add_(4.0)
    net.train()
    net(torch.randn(8, 3) + 5.0)  # moves the BatchNorm running mean
    ema.update_parameters(net)
    after = net.state_dict()
    got = ema.module.state_dict()
    for key in ("0.weight", "1.running_mean", "1.running_var"):
        assert not torch.allclose(before[key], after[key])
        torch.testing.assert_close(got[key], 0.75 * before[key] + 0.25 * after[key])
    assert int(ema.n_averaged) == 2


def test_ema_flags_are_checked():
    from model.training.synth_train import build_parser

    p = build_parser()
    assert p.parse_args(["--out", "x"]).ema_decay == 0.0
    assert p.parse_args(["--out", "x", "--ema-decay", "0.995"]).ema_decay == 0.995
    for bad in ("1", "-0.1", "high"):
        with pytest.raises(SystemExit):
            p.parse_args(["--out", "x", "--ema-decay", bad])
    from model.training.synth_train import SynthTrainer

    late = p.parse_args(["--out", "x", "--steps", "10", "--ema-decay", "0.9", "--ema-start", "10"])
    with pytest.raises(ValueError, match="--ema-start 10 must be below --steps 10"):
        SynthTrainer(late, [])


@pytest.mark.slow
def test_synthetic_training_ships_the_moving_average(tmp_path):
    """With ``--ema-decay`` the saved weights are the EMA kept in the checkpoint, not the last
    step's weights, and the card says so; ``--resume`` carries the average on."""
    from safetensors.torch import load_file

    from model.train import main

    out = tmp_path / "run"
    argv = ["--synthetic", "--out", str(out), "--subjects", "3", "--val-subjects", "2", "--steps", "3"]
    argv += ["--pairs", "1", "--input-size", "32", "--workers", "0", "--eval-every", "3", "--seed", "3"]
    argv += ["--ood-cases", "0", "--decision-threshold", "0.5", "--ema-decay", "0.5", "--ema-start", "1"]
    assert main(argv + ["--steps-limit", "2"]) == 130
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert int(state["ema"]["n_averaged"]) == 2
    assert main(argv + ["--resume"]) == 0
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert int(state["ema"]["n_averaged"]) == 3
    shipped = load_file(out / "model.safetensors")
    key = "conv1.weight"
    torch.testing.assert_close(shipped[key], state["ema"][f"module.{key}"].contiguous())
    assert not torch.allclose(shipped[key], state["model"][key].contiguous())
    card = json.loads((out / "model_card.json").read_text())
    assert card["training"]["weight_averaging"].startswith("EMA of weights and BatchNorm statistics, decay 0.5")
