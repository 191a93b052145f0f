"""``python -m model.train``: CV protocol end to end at a tiny size, folds, resume, BIDS labels, DDP,
and the loss/augmentations against hand-computed values."""

import csv
import json
import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import torch

import model.training.train as train_module
from model.checkpoint import load_weights
from model.inference import analyse
from model.training.augment import mixup, random_flip_lr, random_rotate, rotation_matrices
from model.training.dataset import ManifestError, class_weights, read_bids, read_manifest
from model.training.train import main, weighted_soft_ce
from model.volume import load_volume
from tests.conftest import ROOT

TINY = [
    "--epochs",
    "2",
    "--batch-size",
    "4",
    "--input-size",
    "16",
    "--folds",
    "3",
    "--bootstrap",
    "50",
    "--device",
    "cpu",
]


def tiny_cohort(folder, n=12, seed=0, sessions=1):
    """n subjects of seeded 20x22x18 volumes; 'injured' ones have a bright blob. Returns the manifest."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = i % 2
        for s in range(sessions):
            data = rng.normal(100, 10, (20, 22, 18)).astype(np.float32)
            data[:3] = 0
            if label:
                data[5:14, 6:15, 4:12] += 80
            name = f"sub-{i:02d}_ses-{s}.nii.gz"
            nib.save(nib.Nifti1Image(data, np.diag([1.2, 1.0, 1.1, 1.0])), folder / name)
            rows.append({"path": name, "label": label, "subject": f"s{i:02d}", "session": str(s)})
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="") as fh:
        w = csv.DictWriter(fh, ["path", "label", "subject", "session"])
        w.writeheader()
        w.writerows(rows)
    return manifest


@pytest.mark.slow
def test_cv_run_writes_report_and_weights_the_app_loads(tmp_path):
    manifest = tiny_cohort(tmp_path)
    out = tmp_path / "run"
    assert main(["--manifest", str(manifest), "--out", str(out), "--demonstration", *TINY]) == 0
    for name in (
        "config.json",
        "folds.csv",
        "oof_predictions.csv",
        "metrics.json",
        "roc.png",
        "confusion.png",
        "training_curves.png",
        "tsne.png",
        "model.safetensors",
        "model_card.json",
    ):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["per_fold"]) == 3
    assert set(metrics["mean_sd_over_folds"]) == {"accuracy", "sensitivity", "specificity", "f1", "mcc", "auc"}
    assert "no model selection" in metrics["evaluation"]
    oof = list(csv.DictReader(open(out / "oof_predictions.csv")))
    assert len(oof) == 12 and {r["fold"] for r in oof} == {"1", "2", "3"}
    loaded = load_weights(out)
    card = loaded.card
    assert card.preprocessing.target_shape == (16, 16, 16)
    assert card.training["command"].startswith("python -m model.train --manifest")
    assert card.training["model_selection"] == "none (fixed epochs)"
    assert "random" in card.training["init"]
    assert set(card.metrics["summary"]) == {"accuracy", "sensitivity", "specificity", "f1", "mcc", "auc"}
    result = analyse(load_volume(tmp_path / "sub-01_ses-0.nii.gz"), loaded)
    assert result.heatmap.shape == (20, 22, 18)
    config = json.loads((out / "config.json").read_text())
    assert config["command"] == card.training["command"] and config["epochs"] == 2


@pytest.mark.slow
def test_scans_of_one_subject_never_straddle_folds(tmp_path):
    manifest = tiny_cohort(tmp_path, n=10, sessions=2)
    out = tmp_path / "run"
    assert (
        main(
            ["--manifest", str(manifest), "--out", str(out), "--final", "none", *[a if a != "2" else "1" for a in TINY]]
        )
        == 0
    )
    folds = list(csv.DictReader(open(out / "folds.csv")))
    by_subject = {}
    for r in folds:
        by_subject.setdefault(r["subject"], set()).add(r["fold"])
    assert all(len(f) == 1 for f in by_subject.values())
    # stratified: each fold holds both classes
    for k in ("1", "2", "3"):
        assert {r["label"] for r in folds if r["fold"] == k} == {"0", "1"}


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_same_result(tmp_path, monkeypatch):
    manifest = tiny_cohort(tmp_path)
    common = ["--manifest", str(manifest), *TINY, "--final", "none"]
    assert main(common + ["--out", str(tmp_path / "straight")]) == 0

    real_train = train_module.Trainer._train
    calls = {"n": 0}

    def interrupting(self, name, *a, **k):
        calls["n"] += 1
        if name == "fold2":
            raise KeyboardInterrupt
        return real_train(self, name, *a, **k)

    monkeypatch.setattr(train_module.Trainer, "_train", interrupting)
    assert main(common + ["--out", str(tmp_path / "resumed")]) == 130
    monkeypatch.setattr(train_module.Trainer, "_train", real_train)
    assert main(common + ["--out", str(tmp_path / "resumed")]) == 1  # refuses to silently restart
    assert main(common + ["--out", str(tmp_path / "resumed"), "--resume"]) == 0
    a = list(csv.DictReader(open(tmp_path / "straight" / "oof_predictions.csv")))
    b = list(csv.DictReader(open(tmp_path / "resumed" / "oof_predictions.csv")))
    np.testing.assert_allclose([float(r["p_injury"]) for r in a], [float(r["p_injury"]) for r in b], atol=1e-4)


@pytest.mark.slow
def test_resume_continues_inside_a_fold_from_the_last_epoch(tmp_path, monkeypatch):
    manifest = tiny_cohort(tmp_path)
    common = ["--manifest", str(manifest), *TINY, "--final", "none", "--out", str(tmp_path / "r")]
    real_save = torch.save
    state = {"saves": 0}

    def save_then_stop(obj, f, *a, **k):
        real_save(obj, f, *a, **k)
        state["saves"] += 1
        if state["saves"] == 4:  # fold1 epochs 1-2 and fold2 epoch 1 saved; Ctrl-C while saving fold2 epoch 2
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module.torch, "save", save_then_stop)
    assert main(common) == 130
    monkeypatch.setattr(train_module.torch, "save", real_save)
    last = torch.load(tmp_path / "r" / "checkpoints" / "fold2_last.pt", weights_only=True)
    assert last["epoch"] == 1  # the interrupted write left the previous checkpoint intact
    assert main(common + ["--resume"]) == 0
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert len(metrics["per_fold"]) == 3


def test_resume_with_other_settings_is_refused(tmp_path, capsys):
    manifest = tiny_cohort(tmp_path)
    out = tmp_path / "r"
    (out).mkdir()
    (out / "config.json").write_text(json.dumps({"epochs": 99}))
    assert main(["--manifest", str(manifest), "--out", str(out), *TINY, "--resume"]) == 1
    assert "different settings" in capsys.readouterr().err


@pytest.mark.slow
def test_same_seed_same_folds_and_numbers_on_cpu(tmp_path):
    """oneDNN does not promise bitwise-identical CPU results (reductions may depend on buffer
    alignment), so predictions are compared to 1e-4; the folds must be identical."""
    manifest = tiny_cohort(tmp_path)
    common = ["--manifest", str(manifest), *TINY, "--final", "none"]
    assert main(common + ["--out", str(tmp_path / "a")]) == 0
    assert main(common + ["--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "a" / "folds.csv").read_bytes() == (tmp_path / "b" / "folds.csv").read_bytes()
    pa = [float(r["p_injury"]) for r in csv.DictReader(open(tmp_path / "a" / "oof_predictions.csv"))]
    pb = [float(r["p_injury"]) for r in csv.DictReader(open(tmp_path / "b" / "oof_predictions.csv"))]
    np.testing.assert_allclose(pa, pb, atol=1e-4)
    assert main(common + ["--out", str(tmp_path / "c"), "--seed", "7"]) == 0
    assert (tmp_path / "c" / "folds.csv").read_bytes() != (tmp_path / "a" / "folds.csv").read_bytes()


@pytest.mark.slow
def test_ddp_two_cpu_processes_with_gloo(tmp_path):
    """torchrun with two gloo CPU processes trains, and rank 0 writes a loadable run.

    No retry: a failure is shown as it happened (stderr tail). The port is a free one, so a taken
    or TIME_WAIT port cannot be the cause.
    """
    import socket

    manifest = tiny_cohort(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = tmp_path / "ddp"
    with socket.socket() as sock:  # a free port: a fixed one can be taken or in TIME_WAIT
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            port,
            "-m",
            "model.train",
            "--manifest",
            str(manifest),
            "--out",
            str(out),
            *TINY,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    card = load_weights(out).card
    assert card.training["processes"] == 2
    assert len(json.loads((out / "metrics.json").read_text())["per_fold"]) == 3


def test_manifest_problems_are_reported_together(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,subject\nmissing.nii.gz,1,a\nother.nii.gz,7,b\n")
    with pytest.raises(ManifestError) as info:
        read_manifest(manifest)
    assert "line 2: file not found" in str(info.value) and "line 3: label must be 0 or 1" in str(info.value)
    nib.save(nib.Nifti1Image(np.random.rand(8, 8, 8).astype(np.float32), np.eye(4)), tmp_path / "x.nii.gz")
    nib.save(nib.Nifti1Image(np.random.rand(8, 8, 8).astype(np.float32), np.eye(4)), tmp_path / "y.nii.gz")
    manifest.write_text("path,label\nx.nii.gz,0\n")
    with pytest.raises(ManifestError, match="only one class"):
        read_manifest(manifest)
    manifest.write_text("path,label,subject\nx.nii.gz,0,a\ny.nii.gz,1,a\n")
    with pytest.raises(ManifestError, match="duplicate subject a"):
        read_manifest(manifest)
    manifest.write_text("path,label,subject\nx.nii.gz,0,a\nx.nii.gz,1,b\n")
    with pytest.raises(ManifestError, match="listed twice"):
        read_manifest(manifest)


def test_unreadable_scan_is_reported_before_training(tmp_path, capsys):
    manifest = tiny_cohort(tmp_path)
    (tmp_path / "sub-03_ses-0.nii.gz").write_bytes(b"broken")
    assert main(["--manifest", str(manifest), "--out", str(tmp_path / "r"), *TINY]) == 1
    err = capsys.readouterr().err
    assert "unreadable scans" in err and "sub-03_ses-0.nii.gz" in err
    assert not (tmp_path / "r" / "checkpoints").exists()


def _bids(root, scores):
    root.mkdir()
    (root / "participants.tsv").write_text(
        "participant_id\tradiology_score\n" + "".join(f"sub-{i:02d}\t{s}\n" for i, s in enumerate(scores) if i != 1)
    )
    for i in range(len(scores)):
        anat = root / f"sub-{i:02d}" / "ses-1" / "anat"
        anat.mkdir(parents=True)
        nib.save(
            nib.Nifti1Image(np.random.rand(8, 8, 8).astype(np.float32), np.eye(4)),
            anat / f"sub-{i:02d}_ses-1_T2w.nii.gz",
        )
    # subject 1's score is per session (dHCP keeps radiology scores in the sessions file)
    (root / "sub-01" / "sub-01_sessions.tsv").write_text(f"session_id\tradiology_score\nses-1\t{scores[1]}\n")
    return root


def test_bids_labels_from_radiology_score(tmp_path):
    root = _bids(tmp_path / "bids", [1, 4, 2, 3, 5, 3])
    cases = read_bids(root, "radiology_score", 3)
    assert [(c.subject, c.session, c.label) for c in cases] == [
        ("sub-00", "ses-1", 0),
        ("sub-01", "ses-1", 1),
        ("sub-02", "ses-1", 0),
        ("sub-03", "ses-1", 1),
        ("sub-04", "ses-1", 1),
        ("sub-05", "ses-1", 1),
    ]
    (root / "participants.tsv").write_text("participant_id\tradiology_score\nsub-00\tn/a\n")
    with pytest.raises(ManifestError, match="no radiology_score for sub-00"):
        read_bids(root, "radiology_score", 3)


def test_class_weights_eq11():
    np.testing.assert_allclose(class_weights(np.array([0, 0, 0, 1])), [4 / 6, 4 / 2])


def test_weighted_soft_ce_by_hand():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([[0.75, 0.25], [0.0, 1.0]])
    w = torch.tensor([0.5, 2.0])
    # log-softmax of (2, 0) = (-0.126928, -2.126928); of (0, 1) at index 1 = -0.313262
    expected = -((0.5 * 0.75 * -0.126928 + 2.0 * 0.25 * -2.126928) + 2.0 * 1.0 * -0.313262) / 2
    assert weighted_soft_ce(logits, y, w).item() == pytest.approx(expected, abs=1e-5)


def test_mixup_eq9_is_a_convex_combination():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 1 * 2 * 2 * 2, dtype=torch.float32).reshape(2, 1, 2, 2, 2)
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    xm, ym, lam = mixup(x, y, alpha=1.0, prob=1.0, generator=g)
    assert 0 < lam < 1
    assert any(torch.allclose(xm, lam * x + (1 - lam) * p) for p in (x, x.flip(0)))
    assert any(torch.allclose(ym, lam * y + (1 - lam) * p) for p in (y, y.flip(0)))
    x0, y0, lam0 = mixup(x, y, alpha=1.0, prob=0.0, generator=g)
    assert lam0 == 1.0 and x0 is x and y0 is y


def test_rotations_are_proper_and_bounded():
    r = rotation_matrices(50, 10.0, torch.Generator().manual_seed(0))
    torch.testing.assert_close(r @ r.transpose(1, 2), torch.eye(3).expand(50, 3, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(50), atol=1e-5, rtol=0)
    angles = torch.rad2deg(torch.arccos(((r.diagonal(dim1=1, dim2=2).sum(1) - 1) / 2).clamp(-1, 1)))
    assert angles.max() <= 10.0 + 1e-3


def test_random_rotate_moves_an_off_centre_blob_but_keeps_the_background():
    x = torch.zeros(1, 1, 17, 17, 17)
    x[0, 0, 12, 8, 8] = 1.0
    x = x - 0.5  # background -0.5 (z-scored volumes have a negative background)
    out = random_rotate(x, torch.Generator().manual_seed(3), max_degrees=30, p=1.0)
    assert out[0, 0, 0, 0, 0].item() == pytest.approx(-0.5)
    assert not torch.allclose(out, x)
    same = random_rotate(x, torch.Generator().manual_seed(3), max_degrees=30, p=0.0)
    assert same is x


def test_random_flip_is_left_right():
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 1, 3, 2, 2)
    out = random_flip_lr(x, torch.Generator().manual_seed(0), p=1.0)
    torch.testing.assert_close(out, x.flip(2))


def test_pointing_game_takes_the_maximum_inside_the_brain(tmp_path, monkeypatch):
    """A coarse map has plateaus reaching the field-of-view corners; only the brain counts."""
    from types import SimpleNamespace

    from model.preprocessing import PreprocessConfig
    from model.training.dataset import Case

    data = np.zeros((10, 10, 10), np.float32)
    data[3:7, 3:7, 3:7] = 100.0  # the brain
    mask = np.zeros((10, 10, 10), np.float32)
    mask[5:7, 5:7, 5:7] = 1.0  # the injury
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "sub-01_T2w.nii.gz")
    (tmp_path / "masks").mkdir()
    nib.save(nib.Nifti1Image(mask, np.eye(4)), tmp_path / "masks" / "sub-01_desc-injury_mask.nii.gz")
    heat = np.zeros((10, 10, 10), np.float32)
    heat[0:2, 0:2, 0:2] = 1.0  # plateau in the background corner
    heat[6, 6, 6] = 0.9  # highest point inside the brain, in the lesion
    import model.inference

    monkeypatch.setattr(model.inference, "analyse", lambda vol, loaded, with_cam: SimpleNamespace(heatmap=heat))
    case = Case(path=tmp_path / "sub-01_T2w.nii.gz", label=1, subject="sub-01")
    out = train_module.pointing_game(None, [case], np.array([0.9]), PreprocessConfig(), tmp_path / "masks")
    assert out[0]["hit"] is True
    assert out[0]["mask_fraction"] == pytest.approx(8 / 64)
