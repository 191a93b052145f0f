"""model.evaluate end to end on a tiny simulated set with tiny weights; the pointing game's rule."""

import csv
import json

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage as ndi

from model.evaluate import main
from model.ood_gate import head_mask
from model.pointing import pointing_hit
from model.simulation.phantom import make_phantom, to_nifti
from model.volume import volume_from_image


@pytest.fixture
def tiny_set(tmp_path):
    root = tmp_path / "set"
    root.mkdir()
    rows = []
    kinds = {1: "cysts=2", 3: "cysts=1;wm_loss_mm=[1.5, 2.0]", 5: "punctate_lesions=3"}
    for i, injured in enumerate([False, True, False, True, False, True]):
        ph = make_phantom(20 + i // 2, injured, spacing_mm=2.0)
        nib.save(to_nifti(ph, "LAS"), root / f"c{i}.nii.gz")
        mask = ""
        if injured:
            nib.save(to_nifti(ph, "LAS", what="injury_mask"), root / f"c{i}_mask.nii.gz")
            mask = f"c{i}_mask.nii.gz"
        rows.append(f'c{i}.nii.gz,{int(injured)},s{i // 2},{mask},"{kinds.get(i, "")}",none')
    nib.save(
        nib.Nifti1Image(np.random.default_rng(0).random((40, 50, 40)).astype(np.float32), np.eye(4)),
        root / "noise.nii.gz",
    )
    rows.append("noise.nii.gz,0,s9,,,noise")
    rows.append("missing.nii.gz,0,s10,,,none")
    (root / "manifest.csv").write_text("path,label,subject,mask,injuries,degradation\n" + "\n".join(rows) + "\n")
    return root / "manifest.csv"


def test_evaluate_writes_metrics_plots_and_summary(small_weights, tiny_set, tmp_path, capsys):
    out = tmp_path / "eval"
    rc = main(
        [
            "--weights",
            str(small_weights),
            "--manifest",
            str(tiny_set),
            "--masks",
            "--out",
            str(out),
            "--n-boot",
            "50",
            "--device",
            "cpu",
        ]
    )
    assert rc == 1  # one scan is missing: reported, the rest evaluated
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_scans"] == 8 and metrics["n_scored"] == 7 and metrics["n_failed"] == 1
    block = metrics["all_scored"]
    for key in ("auc", "sensitivity", "specificity", "f1", "mcc"):
        assert key in block and key in block["ci95"]
    assert 0.0 <= block["auc"] <= 1.0
    ood = metrics["out_of_distribution"]
    assert ood["n"] >= 1 and ood["rate_normal"] >= 0.25  # the noise scan is flagged
    assert metrics["in_distribution_only"]["n"] == 7 - ood["n"]
    assert metrics["pointing_game"]["all_injured_with_mask"]["n"] == 3
    assert 0 < metrics["pointing_game"]["all_injured_with_mask"]["chance"] < 1
    for name in ("roc.png", "calibration.png", "summary.md", "predictions.csv"):
        assert (out / name).stat().st_size > 0
    rows = {r["path"].split("/")[-1]: r for r in csv.DictReader(open(out / "predictions.csv"))}
    assert rows["noise.nii.gz"]["in_distribution"] == "False" and rows["noise.nii.gz"]["flag"] == "out of distribution"
    assert rows["missing.nii.gz"]["status"] == "failed" and "not found" in rows["missing.nii.gz"]["reason"]
    # per injury kind (a scan counts for each kind it holds) and per degradation, at the card's threshold
    thr = metrics["decision_threshold"]
    called = {name: float(r["p_injury"]) >= thr for name, r in rows.items() if r["status"] == "scored"}
    by_kind = metrics["sensitivity_by_injury"]
    assert sorted(by_kind) == ["cysts", "punctate_lesions", "wm_loss"]
    assert by_kind["cysts"]["with_others"]["n"] == 2 and by_kind["cysts"]["alone"]["n"] == 1
    assert by_kind["cysts"]["with_others"]["called_injury"] == called["c1.nii.gz"] + called["c3.nii.gz"]
    assert by_kind["wm_loss"]["alone"]["n"] == 0 and by_kind["punctate_lesions"]["alone"]["n"] == 1
    deg = metrics["by_degradation"]
    assert deg["none"]["n_injury"] == 3 and deg["none"]["n_normal"] == 3 and deg["noise"]["n_normal"] == 1
    assert deg["noise"]["specificity"] == (0.0 if called["noise.nii.gz"] else 1.0)
    assert (
        rows["c3.nii.gz"]["injuries"] == "cysts=1;wm_loss_mm=[1.5, 2.0]" and rows["c3.nii.gz"]["degradation"] == "none"
    )
    summary = (out / "summary.md").read_text()
    assert "Out of distribution: " in summary and "Pointing game" in summary and "auc" in summary
    assert "| cysts | " in summary and "| noise | " in summary
    # an earlier evaluation is not replaced without asking
    capsys.readouterr()
    assert main(["--weights", str(small_weights), "--manifest", str(tiny_set), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_bad_manifest_is_one_line(small_weights, tmp_path, capsys):
    bad = tmp_path / "m.csv"
    bad.write_text("file,y\na,1\n")
    assert main(["--weights", str(small_weights), "--manifest", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "path,label" in capsys.readouterr().err


def test_pointing_hit_uses_the_maximum_inside_the_head():
    ph = make_phantom(3, True, spacing_mm=2.0)
    vol = volume_from_image(to_nifti(ph))
    mask = ph.injury_mask
    heat = np.zeros(vol.shape, np.float32)
    heat[0, 0, 0] = 5.0  # a corner outside the head never counts
    i, j, k = np.argwhere(mask)[0]
    heat[i, j, k] = 1.0
    hit = pointing_hit(heat, vol, mask)
    assert hit["hit"] is True and hit["peak_ijk"] == [i, j, k] and 0 < hit["mask_fraction"] < 1
    far = np.argwhere(head_mask(vol) & (ndi.distance_transform_edt(~mask) > 5))[0]  # in the head, 10 mm away
    heat[tuple(far)] = 2.0
    assert pointing_hit(heat, vol, mask)["hit"] is False
