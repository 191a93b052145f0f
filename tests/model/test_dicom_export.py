"""DICOM out: the SR and SC written by ``--dicom-out`` read back with pydicom (study, values, text),
new UIDs, never into the input folder, never over an existing file, OOD verdict when present; an
out-of-distribution scan's probability and heatmap only with ``--show-anyway`` (issue 30)."""

import json

import numpy as np
import pydicom
import pytest

from model.checkpoint import load_weights
from model.dicom import find_series, load_series
from model.heatmap import HEATMAP_CAPTION
from model.inference import analyse
from model.ood_gate import OODVerdict
from model.predict import main as predict
from model.record.dicom_export import RESEARCH_ONLY, ExportError, export_dicom
from model.score import main as score
from model.score import read_worklist
from tests.model.dicom_series import write_patient_series


def _items(sr):
    """{concept meaning: value} of the SR's first-level content items."""
    out = {}
    for item in sr.ContentSequence:
        name = item.ConceptNameCodeSequence[0].CodeMeaning
        if item.ValueType == "NUM":
            out[name] = float(item.MeasuredValueSequence[0].NumericValue)
        elif item.ValueType == "TEXT":
            out[name] = str(item.TextValue)
        elif item.ValueType == "IMAGE":
            out[name] = str(item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
    return out


@pytest.fixture
def dicom_case(tmp_path):
    folder = tmp_path / "in" / "t2"
    write_patient_series(folder, seed=3, shape=(20, 22, 14), number=6, patient=("Baby^Export", "P-9", "20260101"))
    return folder


@pytest.fixture
def drawn_heatmaps(monkeypatch):
    """Records the heatmap each secondary capture is drawn with (None: drawn without one)."""
    import model.record.dicom_export as dicom_export

    seen = []
    original = dicom_export.key_image

    def spy(volume, heatmap, caption, **kwargs):
        seen.append(heatmap)
        return original(volume, heatmap, caption, **kwargs)

    monkeypatch.setattr(dicom_export, "key_image", spy)
    return seen


def test_predict_dicom_out_writes_sr_and_sc_in_the_source_study(
    dicom_case, small_weights, tmp_path, capsys, drawn_heatmaps
):
    out = tmp_path / "pacs-out"
    args = [str(dicom_case), "--weights", str(small_weights), "--dicom-out", str(out), "--json", "--show-anyway"]
    assert predict(args) == 0
    summary = json.loads(capsys.readouterr().out)
    source = pydicom.dcmread(next(dicom_case.iterdir()))
    sr, sc = pydicom.dcmread(summary["dicom_sr"]), pydicom.dcmread(summary["dicom_sc"])
    assert (
        sr.SOPClassUID.name == "Comprehensive SR Storage" and sc.SOPClassUID.name == "Secondary Capture Image Storage"
    )
    for ds in (sr, sc):
        assert ds.StudyInstanceUID == source.StudyInstanceUID and ds.PatientID == "P-9"
        assert ds.SeriesInstanceUID != source.SeriesInstanceUID
    assert sr.SeriesInstanceUID != sc.SeriesInstanceUID
    values = _items(sr)
    assert values["Probability of brain injury (TTA mean)"] == pytest.approx(summary["p_injury"], abs=1e-6)
    assert values["Decision threshold"] == pytest.approx(summary["decision_threshold"])
    assert values["Call"].startswith(summary["flag"])
    assert values["Model name"] == summary["model"] and values["Model version"] == summary["model_version"]
    assert values["Model weights SHA-256"] == summary["weights_sha256"]
    assert values["Input pixel data and geometry SHA-256"] == summary["scan_sha256"]
    assert "second reader" in values["Intended use"] and values["Research use only"] == RESEARCH_ONLY
    assert values["Key images with heatmap"] == sc.SOPInstanceUID
    # the gate's verdict is recorded with its reasons (an adult-sized T1 here: outside the training domain)
    assert summary["in_distribution"] is False and values["Call"].startswith("out of distribution")
    assert "NOT A CALL" in values["Call"]  # shown at the reader's request (--show-anyway), marked
    assert values["Out-of-distribution verdict"].startswith("Outside what these weights were trained on")
    assert all(reason in values["Out-of-distribution verdict"] for reason in summary["ood_reasons"])
    rgb = sc.pixel_array
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and sc.PhotometricInterpretation == "RGB"
    banner = rgb[: rgb.shape[0] // 12].reshape(-1, 3).astype(int)
    assert (np.abs(banner - [249, 168, 37]).sum(axis=1) < 40).sum() > 200  # the research-use caption is burned in
    assert "RESEARCH USE ONLY" in sc.ImageComments
    assert drawn_heatmaps[0] is not None and sc.DerivationDescription == HEATMAP_CAPTION  # drawn (show anyway)
    assert sorted(p.name for p in dicom_case.iterdir()) == [f"IM{i:04d}" for i in range(14)]  # input untouched


def test_out_of_distribution_dicom_has_no_probability_and_no_heatmap_without_show_anyway(
    dicom_case, small_weights, tmp_path, capsys, drawn_heatmaps
):
    """Issue 30 item 2: one rule (model.disclosure) for the DICOM objects too."""
    out = tmp_path / "pacs-out"
    assert predict([str(dicom_case), "--weights", str(small_weights), "--dicom-out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["in_distribution"] is False
    sr, sc = pydicom.dcmread(summary["dicom_sr"]), pydicom.dcmread(summary["dicom_sc"])
    values = _items(sr)
    assert not any(name.startswith("Probability") for name in values) and "Decision threshold" not in values
    assert values["Call"].startswith("out of distribution: no call")
    assert values["Out-of-distribution verdict"].startswith("Outside what these weights were trained on")
    assert values["Key images (no heatmap)"] == sc.SOPInstanceUID
    assert drawn_heatmaps == [None] and "no heatmap" in sc.DerivationDescription
    assert "P(injury)" not in str(sr.ContentSequence)


def test_dicom_out_never_into_the_input_folder_never_for_nifti(dicom_case, small_weights, tmp_path, serag_t2):
    before = sorted(dicom_case.iterdir())
    assert predict([str(dicom_case), "--weights", str(small_weights), "--dicom-out", str(dicom_case / "x")]) == 2
    assert sorted(dicom_case.iterdir()) == before
    assert predict([str(serag_t2), "--weights", str(small_weights), "--dicom-out", str(tmp_path / "o")]) == 2


def test_export_never_overwrites_and_carries_the_ood_verdict(dicom_case, small_weights, tmp_path):
    loaded = load_weights(small_weights)
    volume = load_series(find_series(dicom_case)[0])
    result = analyse(volume, loaded, with_cam=True)
    first = export_dicom(tmp_path / "o", volume, result, loaded.card)
    first_bytes = first.sr_path.read_bytes()
    result.ood = OODVerdict(reasons=["looks like an adult T1"])
    second = export_dicom(tmp_path / "o", volume, result, loaded.card)
    assert first.sr_path.read_bytes() == first_bytes and len(list((tmp_path / "o").iterdir())) == 4
    assert second.sr_series_uid != first.sr_series_uid and second.study_uid == first.study_uid
    verdict = _items(pydicom.dcmread(second.sr_path))["Out-of-distribution verdict"]
    assert verdict.startswith("Outside what these weights were trained on") and "looks like an adult T1" in verdict
    with pytest.raises(ExportError, match="input folder"):
        export_dicom(dicom_case / "results", volume, result, loaded.card)
    nifti_like = load_series(find_series(dicom_case)[0])
    nifti_like.extra.pop("dicom")
    with pytest.raises(ExportError, match="needs a DICOM input"):
        export_dicom(tmp_path / "o2", nifti_like, result, loaded.card)


def test_score_dicom_out_for_each_dicom_series(dicom_case, small_weights, tmp_path):
    root = dicom_case.parent
    out = tmp_path / "results.csv"
    assert (
        score([str(root), "--out", str(out), "--weights", str(small_weights), "--dicom-out", str(tmp_path / "sr")]) == 0
    )
    (row,) = read_worklist(out)
    sr_name, sc_name = row["dicom_export"].split("; ")
    sr = pydicom.dcmread(tmp_path / "sr" / sr_name)
    items = _items(sr)  # an adult-sized synthetic series: outside the training domain, so no probability
    assert row["flag"] == "out of distribution" and "Probability of brain injury (TTA mean)" not in items
    assert items["Out-of-distribution verdict"].startswith("Outside what these weights were trained on")
    assert sr.SeriesInstanceUID != row["series_uid"] and sr.StudyInstanceUID == row["study_uid"]
    assert (tmp_path / "sr" / sc_name).is_file()
    assert score([str(root), "--out", str(out), "--weights", str(small_weights), "--dicom-out", str(root / "sr")]) == 2
