"""``python -m model.compare``: the paired comparison of two model.evaluate folders."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from model.compare import main


def _evaluation(folder, probs, labels, threshold, name="GloResNet-demo", version="0.3.0"):
    folder.mkdir()
    with open(folder / "predictions.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["path", "subject", "label", "status", "p_injury"])
        w.writeheader()
        for k, (p, y) in enumerate(zip(probs, labels)):
            w.writerow(
                {"path": f"/set/case{k}.nii.gz", "subject": f"s{k // 2}", "label": y, "status": "scored", "p_injury": p}
            )
        w.writerow({"path": "/set/broken.nii.gz", "subject": "x", "label": 1, "status": "failed", "p_injury": ""})
    meta = {"decision_threshold": threshold, "weights": {"name": name, "version": version, "weights_sha256": "ab"}}
    (folder / "metrics.json").write_text(json.dumps(meta))
    return folder


def test_compare_reports_both_weights_and_the_paired_difference(tmp_path, capsys):
    rng = np.random.default_rng(0)
    y = [0, 1] * 25
    old = np.clip(0.5 + 0.1 * (np.array(y) - 0.5) + 0.3 * rng.standard_normal(50), 0, 1)
    new = np.clip(0.5 + 0.6 * (np.array(y) - 0.5) + 0.1 * rng.standard_normal(50), 0, 1)
    a = _evaluation(tmp_path / "a", old, y, 0.5)
    b = _evaluation(tmp_path / "b", new, y, 0.45, version="0.4.0")
    assert main([str(a), str(b), "--out", str(tmp_path / "c.json"), "--n-boot", "200"]) == 0
    text = capsys.readouterr().out
    assert "Paired comparison on 50 scans: NEW GloResNet-demo 0.4.0 (threshold 0.45) minus BASE" in text
    saved = json.loads((tmp_path / "c.json").read_text())
    auc = saved["metrics"]["auc"]
    assert auc["b"] > auc["a"] and auc["ci95"][0] > 0
    assert f"| auc | {auc['a']:.3f} | {auc['b']:.3f} | {auc['difference']:+.3f} |" in text
    # each weights is measured at its own card threshold
    assert saved["metrics"]["sensitivity"]["b"] == pytest.approx(np.mean(new[np.array(y) == 1] >= 0.45))


def test_compare_refuses_different_labels_or_a_folder_that_is_not_an_evaluation(tmp_path, capsys):
    a = _evaluation(tmp_path / "a", [0.1, 0.9, 0.2, 0.8], [0, 1, 0, 1], 0.5)
    b = _evaluation(tmp_path / "b", [0.1, 0.9, 0.2, 0.8], [0, 1, 1, 1], 0.5)
    assert main([str(a), str(b)]) == 2
    assert "case2.nii.gz: labelled 0 in" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([str(a), str(tmp_path / "empty")]) == 2
    assert "predictions.csv: not found" in capsys.readouterr().err
