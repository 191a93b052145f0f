"""``python -m model.predict``: output, JSON, heatmap NIfTI on the input's grid, exit codes."""

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from model.predict import main
from tests.conftest import ROOT


def test_prints_probability_and_writes_cam_on_the_input_grid(t2_scan, random_weights, tmp_path, capsys):
    cam = tmp_path / "out" / "cam.nii.gz"
    assert main([str(t2_scan), "--weights", str(random_weights), "--cam-out", str(cam), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert 0 <= summary["p_injury"] <= 1
    assert summary["p_injury"] == pytest.approx(
        (summary["p_injury_identity"] + summary["p_injury_flipped"]) / 2, abs=2e-6
    )
    assert summary["demonstration_weights"] is True and len(summary["scan_sha256"]) == 64
    src, out = nib.load(t2_scan), nib.load(cam)
    assert out.shape == src.shape
    np.testing.assert_array_equal(out.affine, src.affine)
    assert 0 < np.asarray(out.dataobj).max() <= 1
    assert not list(cam.parent.glob(".*tmp*"))  # atomic write leaves nothing behind


def test_text_output(t2_scan, random_weights, capsys):
    assert main([str(t2_scan), "--weights", str(random_weights)]) == 0
    out = capsys.readouterr().out
    assert "P(injury) = " in out and "identity" in out and "flipped" in out and "DEMONSTRATION" in out


def test_bad_scan_exits_1_with_one_line(tmp_path, random_weights, capsys):
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"garbage")
    assert main([str(bad), "--weights", str(random_weights)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(bad) in err and err.startswith("error:")


def test_bad_weights_folder_exits_2_as_in_model_score(t2_scan, tmp_path, capsys):
    assert main([str(t2_scan), "--weights", str(tmp_path)]) == 2
    assert "model_card.json" in capsys.readouterr().err


def test_refuses_to_overwrite_the_input_or_an_existing_file(t2_scan, random_weights, tmp_path):
    assert main([str(t2_scan), "--weights", str(random_weights), "--cam-out", str(t2_scan)]) == 2
    existing = tmp_path / "cam.nii.gz"
    existing.write_bytes(b"keep me")
    assert main([str(t2_scan), "--weights", str(random_weights), "--cam-out", str(existing)]) == 2
    assert existing.read_bytes() == b"keep me"


@pytest.mark.slow
def test_usage_error_exits_2():
    proc = subprocess.run([sys.executable, "-m", "model.predict"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "usage" in proc.stderr


def test_atomic_outputs_follow_the_umask_not_mkstemps_0600(tmp_path):
    import os

    from model.fileio import write_bytes_atomic

    old = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "r.csv", b"a,b\n")
    finally:
        os.umask(old)
    assert (tmp_path / "r.csv").stat().st_mode & 0o777 == 0o644
