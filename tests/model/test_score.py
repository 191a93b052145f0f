"""Batch scoring: discovery (plain and BIDS), bad-file rows, resume, cancel, CSV columns, CLI exit codes."""

import csv
import gzip

import nibabel as nib
import numpy as np
import pytest

from model.bids import discover
from model.checkpoint import load_weights
from model.inference import run_to_end
from model.score import COLUMNS, main, read_worklist, score_steps


def _scan(path, seed=0, shape=(20, 24, 18), affine=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(seed).random(shape).astype(np.float32) * 100
    data[:2] = 0  # some background
    nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 1.0, 1.0]) if affine is None else affine), path)
    return path


def bad_folder(root):
    """A folder with good scans and one of each kind of bad file."""
    _scan(root / "good1.nii.gz", 1)
    _scan(root / "nested" / "good2.nii", 2)
    las = np.diag([-1.0, 1.2, 0.9, 1.0])
    _scan(root / "odd_orientation.nii.gz", 3, affine=las)
    raw = (root / "good1.nii.gz").read_bytes()
    (root / "truncated.nii.gz").write_bytes(raw[: len(raw) // 2])
    (root / "text.nii.gz").write_bytes(gzip.compress(b"hello"))
    nib.save(nib.Nifti1Image(np.ones((16, 16), np.float32), np.eye(4)), root / "flat2d.nii.gz")
    nib.save(nib.Nifti1Image(np.random.rand(8, 8, 8, 3).astype(np.float32), np.eye(4)), root / "series4d.nii.gz")
    nan = np.random.rand(10, 10, 10).astype(np.float32)
    nan[5, 5, 5] = np.nan  # inside the head (NaN only in the background is analysed with a warning)
    nib.save(nib.Nifti1Image(nan, np.eye(4)), root / "nan.nii.gz")
    nib.save(nib.Nifti1Image(np.full((10, 10, 10), 5, np.float32), np.eye(4)), root / "constant.nii.gz")
    (root / "notes.txt").write_text("not a scan")
    return root


EXPECTED_REASONS = {
    "truncated.nii.gz": "truncated or damaged",
    "text.nii.gz": "cannot be read as NIfTI",
    "flat2d.nii.gz": "2D image",
    "series4d.nii.gz": "4D series of 3 volumes",
    "nan.nii.gz": "NaN or infinite",
    "constant.nii.gz": "same value",
}


@pytest.fixture(scope="module")
def loaded(small_weights):
    return load_weights(small_weights)


def test_plain_discovery_is_recursive_and_ignores_other_files(tmp_path):
    bad_folder(tmp_path)
    (tmp_path / ".hidden.nii.gz").write_bytes(b"x")
    found = [e.relpath for e in discover(tmp_path)]
    assert "nested/good2.nii" in found and "notes.txt" not in found and ".hidden.nii.gz" not in found
    assert len(found) == 9


def test_bids_discovery_keeps_t2w_with_subject_and_session(tmp_path):
    _scan(tmp_path / "sub-01" / "ses-A" / "anat" / "sub-01_ses-A_T2w.nii.gz")
    _scan(tmp_path / "sub-01" / "ses-A" / "anat" / "sub-01_ses-A_T1w.nii.gz")
    _scan(tmp_path / "sub-02" / "anat" / "sub-02_T2w.nii")
    _scan(tmp_path / "derivatives" / "x" / "sub-01" / "anat" / "sub-01_T2w.nii.gz")
    found = discover(tmp_path)
    assert [(e.relpath, e.subject, e.session) for e in found] == [
        ("sub-01/ses-A/anat/sub-01_ses-A_T2w.nii.gz", "01", "A"),
        ("sub-02/anat/sub-02_T2w.nii", "02", ""),
    ]
    assert len(discover(tmp_path, bids=False)) == 4


def test_every_bad_file_is_a_row_with_its_reason_and_the_batch_continues(tmp_path, loaded):
    bad_folder(tmp_path)
    summary = run_to_end(score_steps(discover(tmp_path), loaded))
    rows = {r["file"]: r for r in summary.rows}
    assert len(rows) == 9 and summary.failed == 6 and summary.scored == 3
    for name, reason in EXPECTED_REASONS.items():
        assert rows[name]["status"] == "failed" and reason in rows[name]["reason"], rows[name]
    for name in ("good1.nii.gz", "nested/good2.nii", "odd_orientation.nii.gz"):
        r = rows[name]
        assert r["status"] == "scored" and 0 <= float(r["p_injury"]) <= 1 and len(r["input_sha256"]) == 64
        assert float(r["p_injury"]) == pytest.approx(
            (float(r["p_injury_identity"]) + float(r["p_injury_flipped"])) / 2, abs=2e-6
        )
        # tiny random-noise "scans" are scored, and the gate says they are not heads
        assert r["flag"] == "out of distribution" and r["in_distribution"] == "false" and r["ood_reasons"]


def test_resume_skips_cases_scored_with_the_same_weights(tmp_path, loaded, small_weights, random_weights):
    for i in range(3):
        _scan(tmp_path / f"s{i}.nii.gz", i)
    first = run_to_end(score_steps(discover(tmp_path), loaded))
    _scan(tmp_path / "s3.nii.gz", 3)
    _scan(tmp_path / "s0.nii.gz", 10)  # changed content -> scored again
    second = run_to_end(score_steps(discover(tmp_path), loaded, previous=first.rows))
    assert (second.skipped, second.scored) == (2, 2)
    other = load_weights(random_weights)  # other weights -> nothing skipped
    third = run_to_end(score_steps(discover(tmp_path), other, previous=second.rows))
    assert third.skipped == 0


def test_cancel_keeps_what_is_done(tmp_path, loaded):
    for i in range(6):
        _scan(tmp_path / f"s{i}.nii.gz", i)
    gen = score_steps(discover(tmp_path), loaded, prefetch=2)
    events = [next(gen), next(gen)]
    gen.close()  # the dialog's Cancel
    assert [e.done for e in events] == [1, 2] and all(e.row["status"] == "scored" for e in events)


def test_cams_are_written_on_each_inputs_grid(tmp_path, loaded):
    las = np.diag([-1.0, 1.2, 0.9, 1.0])
    src = _scan(tmp_path / "in" / "sub-01" / "anat" / "sub-01_T2w.nii.gz", 1, affine=las)
    summary = run_to_end(score_steps(discover(tmp_path / "in"), loaded, cams_dir=tmp_path / "cams"))
    cam = tmp_path / "cams" / "sub-01" / "anat" / "sub-01_T2w_cam.nii.gz"
    assert summary.rows[0]["cam_file"] == str(cam)
    img = nib.load(cam)
    assert img.shape == nib.load(src).shape
    np.testing.assert_allclose(img.affine, nib.load(src).affine)


def test_cli_columns_exit_codes_and_resume_message(tmp_path, small_weights, capsys):
    folder = bad_folder(tmp_path / "scans")
    out = tmp_path / "results" / "worklist.csv"
    assert main([str(folder), "--out", str(out), "--weights", str(small_weights)]) == 1  # some failed
    with open(out, newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == COLUMNS
        assert len(list(reader)) == 9
    capsys.readouterr()
    assert main([str(folder), "--out", str(out), "--weights", str(small_weights)]) == 1
    assert "0 scored, 3 skipped" in capsys.readouterr().out
    good = tmp_path / "good"
    _scan(good / "a.nii.gz")
    assert main([str(good), "--out", str(tmp_path / "ok.csv"), "--weights", str(small_weights)]) == 0
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "x.csv"), "--weights", str(small_weights)]) == 2
    assert main([str(good), "--out", str(tmp_path / "x.csv"), "--weights", str(tmp_path)]) == 2
    assert main([str(good), "--out", str(tmp_path / "x.txt"), "--weights", str(small_weights)]) == 2
    assert read_worklist(tmp_path / "ok.csv")[0]["status"] == "scored"
    assert sorted(p.name for p in good.iterdir()) == ["a.nii.gz"]  # nothing written into the input folder


def test_cli_refuses_a_heatmaps_folder_inside_the_scans_folder_like_the_dialog(tmp_path, small_weights, capsys):
    """Issue 10: `--cams F/cams` then a plain run scored the heatmaps as scans (4 rows for 2 scans)."""
    from model.score import heatmaps_folder_problem

    folder = tmp_path / "F"
    _scan(folder / "a.nii.gz", 1)
    _scan(folder / "sub" / "b.nii.gz", 2)
    for inside in (folder, folder / "cams", folder / "sub" / "deeper"):
        assert (
            main(
                [str(folder), "--out", str(tmp_path / "r1.csv"), "--weights", str(small_weights), "--cams", str(inside)]
            )
            == 2
        )
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "scans folder" in err and str(inside) in err
        assert heatmaps_folder_problem(inside, folder) is not None
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == ["a.nii.gz", "sub", "sub/b.nii.gz"]
    assert not (tmp_path / "r1.csv").exists()
    # next to the scans folder is fine, and a second run still finds only the two scans
    assert heatmaps_folder_problem(tmp_path / "F-cams", folder) is None
    assert (
        main(
            [
                str(folder),
                "--out",
                str(tmp_path / "r1.csv"),
                "--weights",
                str(small_weights),
                "--cams",
                str(tmp_path / "F-cams"),
            ]
        )
        == 0
    )
    assert main([str(folder), "--out", str(tmp_path / "r2.csv"), "--weights", str(small_weights)]) == 0
    assert sorted(r["file"] for r in read_worklist(tmp_path / "r2.csv")) == ["a.nii.gz", "sub/b.nii.gz"]


def test_interrupted_cli_run_keeps_the_rows_of_files_it_did_not_reach(tmp_path, small_weights, monkeypatch, capsys):
    """Issue 10: an interrupted run rewrote --out with its own rows only; earlier rows were lost."""
    import model.score as score_module

    folder = tmp_path / "scans"
    for i, name in enumerate("abc"):
        _scan(folder / f"{name}.nii.gz", i)
    out = tmp_path / "worklist.csv"
    assert main([str(folder), "--out", str(out), "--weights", str(small_weights)]) == 0
    before = {r["file"]: r for r in read_worklist(out)}
    _scan(folder / "a.nii.gz", 10)  # changed: scored again, first

    real_steps = score_module.score_steps

    def interrupted_after_one_case(*args, **kwargs):
        gen = real_steps(*args, **kwargs)
        yield next(gen)
        raise KeyboardInterrupt  # Ctrl-C while the second case is being scored

    monkeypatch.setattr(score_module, "score_steps", interrupted_after_one_case)
    assert main([str(folder), "--out", str(out), "--weights", str(small_weights)]) == 130
    assert "interrupted" in capsys.readouterr().err
    after = {r["file"]: r for r in read_worklist(out)}
    assert sorted(after) == ["a.nii.gz", "b.nii.gz", "c.nii.gz"]
    assert after["a.nii.gz"]["input_sha256"] != before["a.nii.gz"]["input_sha256"]  # this run's row
    assert after["b.nii.gz"] == before["b.nii.gz"] and after["c.nii.gz"] == before["c.nii.gz"]  # kept


def test_merge_keeps_earlier_rows_and_replaces_files_reached_again():
    from model.score import merge_worklist

    previous = [{"file": "a", "p_injury": "0.1"}, {"file": "b", "p_injury": "0.2"}]
    merged = merge_worklist([{"file": "b", "p_injury": "0.9"}], previous)
    assert merged == [{"file": "b", "p_injury": "0.9"}, {"file": "a", "p_injury": "0.1"}]
