"""DICOM through the headless CLIs: ``model.predict DIR`` (one / several series, ``--series``,
``--cam-out`` on the series' grid) and ``model.score`` over a mixed NIfTI + DICOM tree."""

import json

import nibabel as nib
import numpy as np
import pytest

from model.predict import main as predict
from model.score import main as score
from model.score import read_worklist
from model.volume import volume_from_array
from tests.model.dicom_series import head, oblique_affine, save, slice_datasets, write_series
from tests.model.test_dicom import _non_image


def test_predict_one_series_json_and_cam_on_the_series_grid(tmp_path, small_weights, capsys):
    data = head()
    write_series(tmp_path / "dicom", data, oblique_affine(), number=3, description="T2 ax")
    cam = tmp_path / "out" / "cam.nii.gz"
    assert predict([str(tmp_path / "dicom"), "--weights", str(small_weights), "--cam-out", str(cam), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert 0 <= summary["p_injury"] <= 1 and len(summary["scan_sha256"]) == 64
    assert summary["dicom"]["series_number"] == 3 and summary["dicom"]["study_uid"]
    assert "pixel data + geometry" in summary["scan_sha256_of"]
    assert "Baby" not in json.dumps(summary)  # no names in machine output
    img = nib.as_closest_canonical(nib.load(cam))
    expected = volume_from_array(data.astype(np.float32), oblique_affine())
    assert img.shape == expected.shape
    np.testing.assert_allclose(img.affine, expected.affine, atol=1e-3)


def test_predict_several_series_lists_them_and_exits_2_unless_series_is_given(tmp_path, small_weights, capsys):
    write_series(tmp_path / "a", head(1), oblique_affine(), series="s-a", number=4, description="T2 ax")
    write_series(
        tmp_path / "b", head(2), oblique_affine(), series="s-b", number=8, description="T1 ax", te=4.0, tr=12.0
    )
    _non_image(tmp_path / "sr", "1.2.840.10008.5.1.4.1.1.88.33")  # not listed: not an image series
    assert predict([str(tmp_path), "--weights", str(small_weights)]) == 2
    err = capsys.readouterr().err
    assert "2 image series found" in err and "series 4: T2 ax" in err and "series 8: T1 ax" in err
    assert "UID " in err and "SR" not in err
    assert predict([str(tmp_path), "--weights", str(small_weights), "--series", "8"]) == 0
    assert "DICOM series 8: T1 ax" in capsys.readouterr().out
    assert predict([str(tmp_path), "--weights", str(small_weights), "--series", "5"]) == 1
    assert "no series with number or UID '5'" in capsys.readouterr().err


def test_predict_refused_series_exits_1_with_one_line(tmp_path, small_weights, capsys):
    datasets = slice_datasets(head(), oblique_affine())
    del datasets[5]
    save(datasets, tmp_path)
    assert predict([str(tmp_path), "--weights", str(small_weights)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "missing slices" in err and "\n" not in err


def test_predict_refuses_cam_out_inside_the_dicom_folder(tmp_path, small_weights):
    write_series(tmp_path, head(), oblique_affine())
    assert predict([str(tmp_path), "--weights", str(small_weights), "--cam-out", str(tmp_path / "cam.nii.gz")]) == 2
    assert not (tmp_path / "cam.nii.gz").exists()


def test_score_mixed_nifti_and_dicom_tree(tmp_path, small_weights):
    root = tmp_path / "tree"
    (root / "nifti").mkdir(parents=True)
    nib.save(nib.Nifti1Image(head(5).astype(np.float32), oblique_affine()), root / "nifti" / "case1.nii.gz")
    write_series(
        root / "pacs" / "study1" / "t2",
        head(6),
        oblique_affine(),
        series="t2",
        number=3,
        description="T2 ax",
        patient=("Baby^One", "P-77", "20260101"),
    )
    write_series(
        root / "pacs" / "study1" / "loc",
        head(7),
        oblique_affine(),
        series="loc",
        number=1,
        description="loc",
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
    )
    _non_image(root / "pacs" / "study1" / "sr", "1.2.840.10008.5.1.4.1.1.88.33")
    out = tmp_path / "results.csv"
    assert (
        score([str(root), "--out", str(out), "--weights", str(small_weights), "--cams", str(tmp_path / "cams")]) == 1
    )  # the localiser fails
    rows = {r["file"]: r for r in read_worklist(out)}
    assert set(rows) == {"nifti/case1.nii.gz", "pacs/study1/t2/series-3", "pacs/study1/loc/series-1"}
    t2 = rows["pacs/study1/t2/series-3"]
    assert t2["status"] == "scored" and t2["patient_id"] == "P-77" and t2["study_date"] == "2026-01-15"
    assert t2["series_description"] == "T2 ax" and t2["study_uid"] and t2["series_uid"]
    assert (tmp_path / "cams" / "pacs/study1/t2/series-3_cam.nii.gz").is_file()
    assert rows["pacs/study1/loc/series-1"]["status"] == "failed"
    assert "localiser" in rows["pacs/study1/loc/series-1"]["reason"]
    assert rows["nifti/case1.nii.gz"]["status"] == "scored" and rows["nifti/case1.nii.gz"]["patient_id"] == ""
    # resume: the DICOM series is matched by its pixel-data + geometry hash
    assert score([str(root), "--out", str(out), "--weights", str(small_weights)]) == 1
    again = {r["file"]: r for r in read_worklist(out)}
    assert again["pacs/study1/t2/series-3"]["input_sha256"] == t2["input_sha256"]
    assert again["pacs/study1/t2/series-3"]["patient_id"] == "P-77"


def test_score_real_ge_t1_series_is_scored_not_failed(tmp_path, small_weights):
    """An adult T1 MPRAGE is not what the model is for, but it is readable: it is scored (the
    out-of-distribution gate, issue 8, flags it), never a failure row."""
    from tests.conftest import SHARED_DATA

    folder = SHARED_DATA / "dicom-ge-mprage" / "series"
    if not folder.is_dir():
        pytest.skip(f"real GE DICOM series not available: {folder} (../shared/data is absent)")
    out = tmp_path / "ge.csv"
    assert score([str(folder), "--out", str(out), "--weights", str(small_weights)]) == 0
    (row,) = read_worklist(out)
    assert row["file"] == "series-5" and row["status"] == "scored"
    assert row["series_description"] == "3D Ax T1 MP-RAGE_R22" and row["study_date"] == "2020-09-29"
    assert "oblique acquisition" in row["quality_warnings"]
