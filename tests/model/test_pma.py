"""model.pma: the post-menstrual age from a JSON sidecar, BIDS sessions.tsv / participants.tsv, a DICOM header."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from model.pma import parse_weeks, pma_for, pma_from_dicom_text
from tests.model import dicom_series


def nifti(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2), np.int16), np.eye(4)), path)
    return path


@pytest.mark.parametrize(
    ("value", "weeks"),
    [
        (36.5, 36.5),
        ("36.5", 36.5),
        ("36+3", 36 + 3 / 7),
        ("36w3d", 36 + 3 / 7),
        ("40 weeks", 40.0),
        (280, None),  # days, not weeks
        ("2.5", None),  # years or a typo
        ("abc", None),
        (None, None),
        (True, None),
        (float("nan"), None),
    ],
)
def test_parse_weeks(value, weeks):
    got = parse_weeks(value)
    assert got == (pytest.approx(weeks) if weeks is not None else None)


def test_pma_from_bids_sessions_tsv(tmp_path):
    scan = nifti(tmp_path / "sub-01" / "ses-2" / "anat" / "sub-01_ses-2_T2w.nii.gz")
    (tmp_path / "sub-01" / "sub-01_sessions.tsv").write_text(
        "session_id\tpma_weeks\tnote\nses-1\t32.0\tfirst\nses-2\t40+2\tterm\n"
    )
    weeks, source = pma_for(scan)
    assert weeks == pytest.approx(40 + 2 / 7)
    assert source == "sub-01_sessions.tsv (pma_weeks)"


@pytest.mark.parametrize("column", ["pma", "age_at_scan_pma"])
def test_pma_from_sessions_tsv_other_columns(tmp_path, column):
    scan = nifti(tmp_path / "sub-07" / "ses-a" / "anat" / "sub-07_ses-a_T2w.nii")
    (tmp_path / "sub-07" / "sub-07_sessions.tsv").write_text(f"session_id\t{column}\nses-a\t35.5\n")
    assert pma_for(scan) == (35.5, f"sub-07_sessions.tsv ({column})")


def test_pma_from_participants_tsv_without_sessions(tmp_path):
    scan = nifti(tmp_path / "sub-03" / "anat" / "sub-03_T2w.nii.gz")
    (tmp_path / "participants.tsv").write_text("participant_id\tpma\nsub-02\t30\nsub-03\t41.0\n")
    assert pma_for(scan) == (41.0, "participants.tsv (pma)")


def test_sidecar_first_then_tsv_and_bad_values_ignored(tmp_path):
    scan = nifti(tmp_path / "sub-01" / "ses-1" / "anat" / "sub-01_ses-1_T2w.nii.gz")
    (tmp_path / "sub-01" / "sub-01_sessions.tsv").write_text("session_id\tpma_weeks\nses-1\t33\n")
    sidecar = scan.with_name("sub-01_ses-1_T2w.json")
    sidecar.write_text(json.dumps({"EchoTime": 0.12, "PostMenstrualAge": 38.5}))
    assert pma_for(scan) == (38.5, "JSON sidecar sub-01_ses-1_T2w.json (PostMenstrualAge)")
    sidecar.write_text(json.dumps({"pma_weeks": "not a number"}))
    assert pma_for(scan) == (33.0, "sub-01_sessions.tsv (pma_weeks)")
    sidecar.write_text("{broken")
    assert pma_for(scan)[0] == 33.0


def test_sidecar_of_a_plain_nifti(tmp_path):
    scan = nifti(tmp_path / "scan.nii.gz")
    assert pma_for(scan) == (None, "")
    (tmp_path / "scan.json").write_text(json.dumps({"pma_weeks": 36}))
    assert pma_for(scan) == (36.0, "JSON sidecar scan.json (pma_weeks)")


def test_no_pma_anywhere(tmp_path):
    scan = nifti(tmp_path / "sub-01" / "ses-1" / "anat" / "sub-01_ses-1_T2w.nii.gz")
    (tmp_path / "sub-01" / "sub-01_sessions.tsv").write_text("session_id\tacq_time\nses-1\t2026-01-01\n")
    assert pma_for(scan) == (None, "")
    assert pma_for(tmp_path / "missing.nii.gz") == (None, "")


def test_dicom_text():
    assert pma_from_dicom_text("Twin A. PMA 36+2 weeks, ventilated") == pytest.approx(36 + 2 / 7)
    assert pma_from_dicom_text("post-menstrual age: 36.3 weeks") == pytest.approx(36.3)
    assert pma_from_dicom_text("CGA 40w") == 40.0
    assert pma_from_dicom_text("born at 26 weeks, day 70") is None  # not labelled as PMA
    assert pma_from_dicom_text("") is None


def write_dicom(folder, **attributes):
    datasets = dicom_series.slice_datasets(dicom_series.volume((4, 4, 2)), np.eye(4))
    for ds in datasets:
        for key, value in attributes.items():
            setattr(ds, key, value)
    dicom_series.save(datasets, folder)
    return folder


def test_dicom_patient_age_is_not_pma(tmp_path):
    folder = write_dicom(tmp_path / "dicom", PatientAge="070D")  # 70 days old: postnatal age, not PMA
    assert pma_for(folder) == (None, "")


def test_dicom_labelled_pma_in_additional_patient_history(tmp_path):
    folder = write_dicom(tmp_path / "dicom", PatientAge="070D", AdditionalPatientHistory="PMA 36+2, born 26 weeks")
    weeks, source = pma_for(folder)
    assert weeks == pytest.approx(36 + 2 / 7)
    assert source == "DICOM header (AdditionalPatientHistory, free text)"
    file = sorted(folder.iterdir())[0]
    assert pma_for(file)[0] == pytest.approx(36 + 2 / 7)
