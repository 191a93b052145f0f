"""``python -m model.train`` end to end at a tiny size, and its loss/mixup against hand-computed values."""
import csv
import json

import nibabel as nib
import numpy as np
import pytest
import torch

from model.checkpoint import load_weights
from model.dataset import ManifestError, class_weights, read_manifest
from model.inference import analyse
from model.train import main, mixup, weighted_soft_ce
from model.volume import load_volume


def tiny_cohort(folder, n=12, seed=0):
    """n seeded 20^3 volumes; 'injured' ones have a large bright blob. Returns the manifest path."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = i % 2
        data = rng.normal(100, 10, (20, 22, 18)).astype(np.float32)
        if label:
            data[5:14, 6:15, 4:12] += 80
        name = f"sub-{i:02d}.nii.gz"
        nib.save(nib.Nifti1Image(data, np.diag([1.2, 1.0, 1.1, 1.0])), folder / name)
        rows.append({"path": name, "label": label, "subject": f"s{i:02d}"})
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="") as fh:
        w = csv.DictWriter(fh, ["path", "label", "subject"])
        w.writeheader()
        w.writerows(rows)
    return manifest


def test_train_writes_a_folder_the_app_loads(tmp_path, capsys):
    manifest = tiny_cohort(tmp_path)
    out = tmp_path / "run"
    code = main(["--manifest", str(manifest), "--out", str(out), "--epochs", "2", "--batch-size", "4",
                 "--input-size", "32", "--holdout-fraction", "0.34", "--seed", "1", "--demonstration"])
    assert code == 0
    loaded = load_weights(out)
    card = loaded.card
    assert card.preprocessing.target_shape == (32, 32, 32)  # inference will read this back
    assert card.demonstration is True
    assert card.training["command"].startswith("python -m model.train --manifest")
    assert card.training["model_selection"] == "none (fixed epochs)"
    assert card.metrics["n"] == card.training["n_holdout"] >= 2
    assert 0 <= card.metrics["accuracy"] <= 1
    with open(out / "holdout_predictions.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == card.training["n_holdout"]
    held_out_subjects = {r["subject"] for r in rows}
    assert held_out_subjects and len(held_out_subjects) < 12
    assert json.loads((out / "config.json").read_text())["epochs"] == 2
    result = analyse(load_volume(tmp_path / "sub-01.nii.gz"), loaded)
    assert result.heatmap.shape == (20, 22, 18)
    # refuses to overwrite a finished run
    assert main(["--manifest", str(manifest), "--out", str(out), "--epochs", "1", "--input-size", "32"]) == 1
    assert "already holds a model card" in capsys.readouterr().err


def test_same_seed_same_folds_and_numbers_on_cpu(tmp_path):
    """Same seed: identical split and, up to float summation order, identical weights and predictions.

    oneDNN does not promise bitwise-identical CPU results across runs (its reductions can depend
    on buffer alignment), so weights are compared to 1e-5 rather than by hash.
    """
    manifest = tiny_cohort(tmp_path)
    args = ["--manifest", str(manifest), "--epochs", "1", "--batch-size", "4", "--input-size", "32",
            "--holdout-fraction", "0.34", "--seed", "5", "--device", "cpu"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    a, b = load_weights(tmp_path / "a"), load_weights(tmp_path / "b")
    for key, value in a.model.state_dict().items():
        torch.testing.assert_close(b.model.state_dict()[key], value, atol=1e-5, rtol=1e-4)
    pa = list(csv.DictReader(open(tmp_path / "a" / "holdout_predictions.csv")))
    pb = list(csv.DictReader(open(tmp_path / "b" / "holdout_predictions.csv")))
    assert [r["subject"] for r in pa] == [r["subject"] for r in pb]
    np.testing.assert_allclose([float(r["p_injury"]) for r in pa], [float(r["p_injury"]) for r in pb], atol=1e-4)
    # a different seed gives a different split or different numbers
    assert main(args[:-4] + ["--seed", "6", "--device", "cpu", "--out", str(tmp_path / "c")]) == 0
    pc = list(csv.DictReader(open(tmp_path / "c" / "holdout_predictions.csv")))
    assert [(r["subject"], r["p_injury"]) for r in pc] != [(r["subject"], r["p_injury"]) for r in pa]


def test_manifest_problems_are_reported_together(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,subject\nmissing.nii.gz,1,a\nother.nii.gz,7,b\n")
    with pytest.raises(ManifestError) as info:
        read_manifest(manifest)
    assert "line 2: file not found" in str(info.value) and "line 3: label must be 0 or 1" in str(info.value)
    nib.save(nib.Nifti1Image(np.random.rand(8, 8, 8).astype(np.float32), np.eye(4)), tmp_path / "x.nii.gz")
    manifest.write_text("path,label\nx.nii.gz,0\n")
    with pytest.raises(ManifestError, match="only one class"):
        read_manifest(manifest)


def test_class_weights_eq11():
    np.testing.assert_allclose(class_weights(np.array([0, 0, 0, 1])), [4 / 6, 4 / 2])


def test_weighted_soft_ce_by_hand():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([[0.75, 0.25], [0.0, 1.0]])
    w = torch.tensor([0.5, 2.0])
    logp = torch.log_softmax(logits, 1)
    expected = -((0.5 * 0.75 * logp[0, 0] + 2.0 * 0.25 * logp[0, 1]) + (2.0 * 1.0 * logp[1, 1])) / 2
    assert weighted_soft_ce(logits, y, w).item() == pytest.approx(expected.item())
    # hand value: log-softmax of (2, 0) = (-0.126928, -2.126928); of (0, 1) -> -0.313262 for index 1
    assert expected.item() == pytest.approx(-((0.375 * -0.126928) + (0.5 * -2.126928) + 2 * -0.313262) / 2, abs=1e-5)


def test_mixup_eq9_is_a_convex_combination():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 1 * 2 * 2 * 2, dtype=torch.float32).reshape(2, 1, 2, 2, 2)
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    xm, ym, lam = mixup(x, y, alpha=1.0, prob=1.0, generator=g)
    assert 0 < lam < 1
    perm_options = [x, x.flip(0)]
    assert any(torch.allclose(xm, lam * x + (1 - lam) * p) for p in perm_options)
    torch.testing.assert_close(ym.sum(1), torch.ones(2))
    x0, y0, lam0 = mixup(x, y, alpha=1.0, prob=0.0, generator=g)
    assert lam0 == 1.0 and x0 is x and y0 is y
