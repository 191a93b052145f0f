"""The acquisition rule (model.acquisition): what a scan's metadata says about its weighting, read
from DICOM, JSON sidecars, BIDS names and dcm2niix's descrip, and the gate flagging a scan whose
metadata says it is not T2-weighted (the guard against a neonatal T1 the image rules cannot see)."""

import json

import nibabel as nib
import numpy as np
import pytest

from model.acquisition import Acquisition, from_nifti, t2_weighting
from model.dicom import find_series, load_series
from model.ood_gate import rule_reasons
from model.predict import main as predict_main
from model.simulation.phantom import make_phantom, to_nifti
from model.volume import load_volume, volume_from_image
from tests.model.dicom_series import write_series


@pytest.mark.parametrize(
    "acq, verdict, words",
    [
        (Acquisition(text="Ax T2 FSE"), True, "names T2"),
        (Acquisition(text="sT1W_3D_TFE"), False, "names T1"),
        (Acquisition(text="3D Ax T1 MP-RAGE"), False, "names T1"),
        (Acquisition(text="MPRAGE sag"), False, "MPRAGE"),
        (Acquisition(text="T2 FLAIR ax", echo_time_ms=120, repetition_time_ms=9000), False, "FLAIR"),
        (Acquisition(text="T2*w GRE"), False, "T2"),
        (Acquisition(text="Ax DWI_b1000"), False, "DWI"),
        (Acquisition(text="T2 TSE HEADCOIL"), True, "names T2"),  # ADC inside a word is not ADC
        (Acquisition(text="T2w"), True, "names T2"),  # a BIDS suffix
        (Acquisition(echo_time_ms=156, repetition_time_ms=12000), True, "echo time 156 ms"),
        (Acquisition(echo_time_ms=4.6, repetition_time_ms=8.5), False, "echo time 4.6 ms"),
        (Acquisition(echo_time_ms=120, repetition_time_ms=9000, inversion_time_ms=2500), False, "FLAIR"),
        (Acquisition(echo_time_ms=80, repetition_time_ms=4000, inversion_time_ms=150), None, ""),  # STIR
        (Acquisition(echo_time_ms=45, repetition_time_ms=3000), None, ""),
        (Acquisition(text="survey"), None, ""),
        (None, None, ""),
    ],
)
def test_t2_weighting_reads_description_then_times(acq, verdict, words):
    got, why = t2_weighting(acq)
    assert got is verdict
    assert words in why


def test_nifti_metadata_from_sidecar_bids_name_and_descrip(tmp_path):
    img = nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4))
    plain = tmp_path / "scan.nii.gz"
    assert from_nifti(plain) is None  # nothing says anything
    sidecar = tmp_path / "sub-01_T2w.json"
    sidecar.write_text(json.dumps({"EchoTime": 0.156, "RepetitionTime": 12.0, "SeriesDescription": "T2 TSE"}))
    nib.save(img, tmp_path / "sub-01_T2w.nii.gz")
    acq = from_nifti(tmp_path / "sub-01_T2w.nii.gz")
    assert (acq.echo_time_ms, acq.repetition_time_ms) == (156.0, 12000.0)  # BIDS seconds -> ms
    assert acq.text == "T2 TSE | T2w" and "sub-01_T2w.json" in acq.source and "file name" in acq.source
    assert t2_weighting(acq)[0] is True
    acq = from_nifti(tmp_path / "sub-01_T1w.nii.gz", b"TE=3.2;Time=2056.000\x00\x00")
    assert acq.text == "T1w" and acq.echo_time_ms == 3.2 and t2_weighting(acq)[0] is False
    (tmp_path / "broken.json").write_text("{not json")
    assert from_nifti(tmp_path / "broken.nii") is None  # an unreadable sidecar is ignored, not fatal
    assert sidecar.read_text().startswith('{"EchoTime"')  # nothing written back


def _phantom_file(path, seed=12):
    nib.save(to_nifti(make_phantom(seed, False, spacing_mm=1.5)), path)
    return path


def test_a_neonatal_scan_named_t1w_is_flagged_and_its_t2w_twin_passes(tmp_path):
    t1 = _phantom_file(tmp_path / "sub-01_ses-1_T1w.nii.gz")
    t2 = _phantom_file(tmp_path / "sub-01_ses-1_T2w.nii.gz")
    reasons = rule_reasons(load_volume(t1, compute_hash=False))
    assert len(reasons) == 1 and "not T2-weighted" in reasons[0] and "T1w" in reasons[0], reasons
    assert rule_reasons(load_volume(t2, compute_hash=False)) == []


def test_sidecar_echo_time_flags_a_t1_whatever_its_name(tmp_path):
    path = _phantom_file(tmp_path / "baby.nii.gz")
    (tmp_path / "baby.json").write_text(json.dumps({"EchoTime": 0.0046, "RepetitionTime": 0.0085}))
    reasons = rule_reasons(load_volume(path, compute_hash=False))
    assert any("echo time 4.6 ms" in r and "baby.json" in r for r in reasons), reasons


def test_predict_json_says_out_of_distribution_for_a_t1w_file(small_weights, tmp_path, capsys):
    path = _phantom_file(tmp_path / "sub-02_T1w.nii.gz")
    assert predict_main([str(path), "--weights", str(small_weights), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["in_distribution"] is False and out["flag"] == "out of distribution"
    assert any("not T2-weighted" in r for r in out["ood_reasons"]), out["ood_reasons"]


@pytest.mark.parametrize(
    "description, te, tr, flagged",
    [("Ax T1 SE", 12.0, 500.0, True), ("3D sag iso", 4.0, 9.0, True), ("Ax T2 TSE", 120.0, 8000.0, False)],
)
def test_dicom_series_metadata_reaches_the_gate(tmp_path, description, te, tr, flagged):
    vol = volume_from_image(to_nifti(make_phantom(12, False, spacing_mm=1.5)))
    write_series(tmp_path / "in", vol.data, vol.affine, description=description, te=te, tr=tr)
    (series,) = find_series(tmp_path / "in")
    assert series.t2_weighted is (not flagged)
    reasons = rule_reasons(load_series(series, compute_hash=False))
    assert any("DICOM header" in r and "not T2-weighted" in r for r in reasons) is flagged, reasons
    if not flagged:
        assert reasons == []
