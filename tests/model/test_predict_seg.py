"""``model.predict --seg-out/--pma/--report`` and ``model.score --segs/--reports`` with weights that segment (issues 28, 29).

A tiny decoder-equipped network (``seg_weights``, random, 32^3 grid) on a drawn neonatal-sized head
stored in a non-RAS voxel order: the label map comes back on the input file's own grid and affine,
with its label table beside it; the JSON has the measurements and findings at the PMA the sidecar
gives; the PDF is the app's report; the worklist has the main measures and a findings column.
"""

import contextlib
import io
import json
import shutil
import subprocess

import nibabel as nib
import numpy as np
import pytest
from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, ornt_transform

from model.checkpoint import load_weights
from model.inference import analyse
from model.label_map import OURS, load_label_map
from model.measure import report_from_labels
from model.predict import main as predict
from model.score import main as score
from model.score import read_worklist
from model.seg_outputs import MEASURE_COLUMNS, NO_DECODER_TEXT, WITHHELD_TEXT, label_table_path
from model.segmentation import label_table
from model.volume import load_volume
from tests.model.seg_cases import drawn_head


def _store(volume, path, axcodes=("P", "S", "R")):
    """Save a RAS+ volume with another voxel order on disk (same world positions)."""
    transform = ornt_transform(axcodes2ornt(("R", "A", "S")), axcodes2ornt(axcodes))
    data = apply_orientation(volume.data, transform)
    affine = volume.affine @ inv_ornt_aff(transform, volume.data.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.ascontiguousarray(data), affine), path)
    return path


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = predict(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def case(tmp_path_factory, seg_weights):
    """One predict run: --seg-out, --report and --json on a PSR-stored head whose sidecar says PMA 40+3."""
    root = tmp_path_factory.mktemp("predict-seg")
    volume, _ = drawn_head()
    scan = _store(volume, root / "in" / "sub-01_T2w.nii.gz")
    (root / "in" / "sub-01_T2w.json").write_text(json.dumps({"PostMenstrualAge": "40+3"}))
    seg, report = root / "out" / "seg.nii.gz", root / "out" / "report.pdf"
    code, out, err = _run(
        [str(scan), "--weights", str(seg_weights), "--seg-out", str(seg), "--report", str(report), "--json"]
    )
    assert code == 0, err
    return {"scan": scan, "seg": seg, "report": report, "summary": json.loads(out), "root": root}


def test_seg_out_is_on_the_input_files_grid_and_affine_with_its_label_table(case, seg_weights):
    src, out = nib.load(case["scan"]), nib.load(case["seg"])
    assert out.shape == src.shape and "".join(nib.aff2axcodes(src.affine)) == "PSR"
    np.testing.assert_allclose(out.affine, src.affine)
    np.testing.assert_allclose(out.get_sform(), src.affine)
    assert out.get_data_dtype() == np.uint8 and out.header.get_intent()[0] == "label"
    values = set(np.unique(np.asarray(out.dataobj)).tolist())
    assert (
        values <= {c["value"] for c in label_table()["labels"]} and len(values) >= 2
    )  # random weights: any labels, but more than one
    table = json.loads(label_table_path(case["seg"]).read_text())
    assert label_table_path(case["seg"]).name == "seg.labels.json"
    assert table["labels"] == label_table()["labels"] and table["image"] == "seg.nii.gz"
    assert table["input_sha256"] == case["summary"]["scan_sha256"]
    assert not list(case["seg"].parent.glob(".*tmp*"))  # atomic writes leave nothing behind
    # the file read back (as File > Open segmentation does) is the analysis' label map, voxel for voxel
    volume = load_volume(case["scan"])
    result = analyse(volume, load_weights(seg_weights), with_cam=False)
    np.testing.assert_array_equal(load_label_map(case["seg"], volume, convention=OURS).labels, result.labels)


def test_json_has_measurements_and_findings_at_the_sidecars_pma(case):
    summary = case["summary"]
    assert summary["segmentation"] == "available" and summary["seg"] == str(case["seg"])
    assert summary["pma_weeks"] == pytest.approx(40 + 3 / 7) and "sidecar" in summary["pma_source"]
    vent, wm = summary["measurements"]["ventricles_ml"], summary["measurements"]["white_matter_ml"]
    assert (
        vent["unit"] == "ml" and vent["reference"]["source"] and vent["reference"]["pma_weeks"] == summary["pma_weeks"]
    )
    assert wm["z"] is not None and wm["reference"]["sd"] is not None  # a published spread at 37-42 weeks
    assert isinstance(summary["findings"], list)
    for f in summary["findings"]:
        assert f["kind"] and len(f["location_ras_mm"]) == 3
    # the numbers are those of the written map, measured again from the file
    volume = load_volume(case["scan"])
    labels = load_label_map(case["seg"], volume, convention=OURS).labels
    again = report_from_labels(labels, volume.affine)
    assert again.measurement("ventricles_ml").value == pytest.approx(vent["value"])
    assert len(again.lesions) == len(summary["lesions"])


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (apt poppler-utils) is not installed")
def test_report_is_the_apps_report_with_the_measurements(case):
    text = subprocess.run(
        ["pdftotext", "-layout", str(case["report"]), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert case["summary"]["report_pages"] >= 4
    assert "GloResNet second reader — reading report" in text and "Model card" in text and "SHA-256" in text
    assert "Measurements (from the model's segmentation)" in text
    assert "References at PMA 40.4 weeks, from JSON sidecar sub-01_T2w.json (PostMenstrualAge)" in text
    assert "Key images with heatmap" in text and "Research use only" in text


def test_pma_option_and_text_output(case, seg_weights, tmp_path):
    code, out, _ = _run([str(case["scan"]), "--weights", str(seg_weights), "--pma", "36.5"])
    assert code == 0
    assert "measurements (references at PMA 36.5 weeks, from --pma):" in out
    assert "  Ventricles: " in out and "findings: " in out
    code, _, err = _run([str(case["scan"]), "--weights", str(seg_weights), "--pma", "365"])
    assert code == 2 and "between 20.0 and 60.0" in err


def test_weights_without_a_decoder_say_so(case, small_weights, tmp_path):
    seg = tmp_path / "seg.nii.gz"
    code, _, err = _run([str(case["scan"]), "--weights", str(small_weights), "--seg-out", str(seg)])
    assert code == 2 and "segmentation decoder" in err and not seg.exists()
    code, out, _ = _run([str(case["scan"]), "--weights", str(small_weights)])
    assert code == 0 and f"measurements: {NO_DECODER_TEXT}" in out
    code, out, _ = _run([str(case["scan"]), "--weights", str(small_weights), "--json"])
    assert json.loads(out)["segmentation"] == "not available with these weights (no segmentation decoder)"


def test_outputs_never_replace_files_without_overwrite(case, seg_weights, tmp_path):
    seg = tmp_path / "seg.nii"
    label_table_path(seg).write_text("keep me")
    code, _, err = _run([str(case["scan"]), "--weights", str(seg_weights), "--seg-out", str(seg)])
    assert code == 2 and "seg.labels.json: exists" in err and label_table_path(seg).read_text() == "keep me"
    assert _run([str(case["scan"]), "--weights", str(seg_weights), "--seg-out", str(case["scan"])])[0] == 2
    assert _run([str(case["scan"]), "--weights", str(seg_weights), "--report", str(tmp_path / "r.txt")])[0] == 2
    code, _, _ = _run([str(case["scan"]), "--weights", str(seg_weights), "--seg-out", str(seg), "--overwrite"])
    assert code == 0 and json.loads(label_table_path(seg).read_text())["image"] == "seg.nii"


def test_score_has_the_main_measures_findings_label_maps_and_reports(seg_weights, small_weights, tmp_path):
    folder = tmp_path / "scans"
    volume, _ = drawn_head()
    _store(volume, folder / "baby.nii.gz")
    (folder / "baby.json").write_text(json.dumps({"pma_weeks": 40}))
    small, _ = drawn_head(spacing=(1.0, 1.0, 1.0))  # 46 x 54 mm: not an infant's head
    _store(small, folder / "tiny.nii.gz", axcodes=("L", "A", "S"))
    out, segs, reports = tmp_path / "w.csv", tmp_path / "segs", tmp_path / "reports"
    argv = [
        str(folder),
        "--out",
        str(out),
        "--weights",
        str(seg_weights),
        "--segs",
        str(segs),
        "--reports",
        str(reports),
    ]
    assert score(argv) == 0
    rows = {r["file"]: r for r in read_worklist(out)}
    header = open(out).readline().strip().split(",")
    assert all(c in header for c in MEASURE_COLUMNS + ["seg_file", "report_file"])
    baby, tiny = rows["baby.nii.gz"], rows["tiny.nii.gz"]
    assert baby["segmentation"] == "available" and baby["pma_weeks"] == "40.0"
    assert float(baby["ventricles_ml"]) >= 0 and float(baby["white_matter_ml"]) >= 0 and baby["white_matter_z"]
    assert baby["lesion_count"].isdigit() and baby["findings"]
    seg = nib.load(baby["seg_file"])
    assert baby["seg_file"] == str(segs / "baby_seg.nii.gz") and (segs / "baby_seg.labels.json").is_file()
    assert seg.shape == nib.load(folder / "baby.nii.gz").shape
    np.testing.assert_allclose(seg.affine, nib.load(folder / "baby.nii.gz").affine)
    assert baby["report_file"] == str(reports / "baby_report.pdf") and (reports / "baby_report.pdf").is_file()
    # outside the training domain: no measurements or findings as results (issue 29)
    assert tiny["flag"] == "out of distribution" and tiny["segmentation"] == WITHHELD_TEXT
    assert tiny["ventricles_ml"] == tiny["findings"] == tiny["lesion_count"] == ""
    # refused: outputs inside the scans folder; --segs with weights that do not segment
    assert (
        score(
            [str(folder), "--out", str(tmp_path / "x.csv"), "--weights", str(seg_weights), "--segs", str(folder / "s")]
        )
        == 2
    )
    assert (
        score([str(folder), "--out", str(tmp_path / "y.csv"), "--weights", str(small_weights), "--segs", str(segs)])
        == 2
    )
    assert not (folder / "s").exists()
