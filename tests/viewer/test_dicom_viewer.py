"""DICOM in the app: open a folder (menu, drop, main.py DIR), the series picker, identifiers in the
header bar and Scan tab with Hide identifiers (screen and PDF), UIDs in the audit log, Export as DICOM."""

import json
import shutil
import subprocess

import numpy as np
import pydicom
import pytest
from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl
from PyQt6.QtGui import QDropEvent

from tests.model.dicom_series import head, oblique_affine, write_patient_series, write_series
from tests.viewer.helpers import WAIT_MS, make_result, open_and_wait
from viewer.controllers.dicom import HIDDEN, HIDDEN_BAR_TEXT


@pytest.fixture
def one_series(tmp_path):
    folder = tmp_path / "pacs" / "study"
    write_patient_series(folder)
    return folder


@pytest.fixture
def three_series(tmp_path):
    root = tmp_path / "export"
    write_series(root / "a", head(2), oblique_affine(), series="t1", number=2, description="T1 ax", te=4.0, tr=12.0)
    write_series(root / "b", head(3), oblique_affine(), series="t2", number=5, description="T2 tse")
    write_series(
        root / "c",
        head(4),
        oblique_affine(),
        series="loc",
        number=1,
        description="Survey",
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
    )
    return root


def test_one_series_opens_directly_with_identifiers_in_the_bar_and_scan_tab(qtbot, window, one_series):
    scan = open_and_wait(qtbot, window, one_series)
    assert scan.name == "DICOM series 3" and scan.volume.extra["dicom"].series_number == 3
    d = window.dicom
    assert d.bar.isVisibleTo(window) and "Baby Test" in d.bar_label.text() and "ID P-0001" in d.bar_label.text()
    assert "born 2026-01-01" in d.bar_label.text() and "TestVendor Tiny 3T 3 T" in d.bar_label.text()
    assert d.values["Patient name"].text() == "Baby Test" and d.values["Series"].text() == "T2 ax"
    assert d.values["Field strength"].text() == "3 T"
    assert window.header_panel.values["File"].text() == str(one_series)
    assert "DICOM pixel data and geometry" in window.header_panel.values["Hash of"].text()
    assert window.header_panel.values["Converted by"].text().startswith("dcm2niix")
    assert "Baby" not in window.windowTitle()


def test_hide_identifiers_blanks_screen_and_pdf(qtbot, window, one_series, tmp_path):
    scan = open_and_wait(qtbot, window, one_series)
    window.state.set_result(make_result(scan.volume, np.full(scan.volume.shape, 0.5, np.float32), 0.8), card=None)
    window.dicom.set_hidden(True)
    assert window.dicom.hide_action.isChecked()
    assert window.dicom.bar_label.text() == HIDDEN_BAR_TEXT
    assert all(label.text() == HIDDEN for label in window.dicom.values.values())
    assert window.header_panel.values["File"].text() == HIDDEN
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    for hidden, name in ((True, "hidden.pdf"), (False, "shown.pdf")):
        window.dicom.set_hidden(hidden)
        with qtbot.waitSignal(window.export_written, timeout=WAIT_MS):
            window.export_report(tmp_path / name)
    hidden_text = subprocess.run(
        ["pdftotext", str(tmp_path / "hidden.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    first_page = subprocess.run(
        ["pdftotext", "-l", "1", str(tmp_path / "shown.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Baby" not in hidden_text and "P-0001" not in hidden_text and str(one_series) not in hidden_text
    assert "hidden" in hidden_text
    assert "Baby Test" in first_page and "P-0001" in first_page and "Key images with heatmap" in first_page
    assert "80.0 %" in first_page


def test_several_series_show_the_picker_t2_first(qtbot, window, three_series):
    with qtbot.waitSignal(window.dicom.picker_shown, timeout=WAIT_MS) as shown:
        window.open_path(three_series)
    picker = shown.args[0]
    rows = [[picker.table.item(r, c).text() for c in (0, 1, 7)] for r in range(picker.table.rowCount())]
    assert rows[0] == ["5", "T2 tse", "T2-weighted (suggested)"]
    assert rows[1][:2] == ["2", "T1 ax"] and "localiser" in rows[2][2]
    assert picker.chosen().series_number == 5  # the T2 series is preselected
    assert not picker.select(2) and picker.chosen().series_number == 5  # the localiser cannot be picked
    assert picker.select(1)
    with qtbot.waitSignal(window.scan_loaded, timeout=WAIT_MS) as loaded:
        picker.accept()
    assert loaded.args[0].volume.extra["dicom"].series_number == 2


def test_dropping_a_folder_opens_it(qtbot, window, one_series):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(one_series))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    with qtbot.waitSignal(window.scan_loaded, timeout=WAIT_MS) as loaded:
        window.dropEvent(event)
    assert loaded.args[0].name == "DICOM series 3"


def test_refused_series_and_non_dicom_file_give_one_line(qtbot, window, tmp_path):
    write_series(tmp_path / "loc", head(), oblique_affine(), image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"))
    with qtbot.waitSignal(window.scan_failed, timeout=WAIT_MS) as failed:
        window.open_path(tmp_path / "loc")
    assert "localiser" in failed.args[0] and "\n" not in failed.args[0]
    (tmp_path / "notes.txt").write_text("hello")
    with qtbot.waitSignal(window.scan_failed, timeout=WAIT_MS) as failed:
        window.open_path(tmp_path / "notes.txt")
    assert "neither a NIfTI" in failed.args[0]


def test_audit_log_stores_uids_and_hash_never_names(qtbot, window, one_series):
    scan = open_and_wait(qtbot, window, one_series)
    window.settings.reader_name = "Dr Test"
    assert window.record_impression("normal") is not None
    entry = json.loads(window.audit_path.read_text().splitlines()[-1])
    series = scan.volume.extra["dicom"]
    assert entry["study_uid"] == series.study_uid and entry["series_uid"] == series.series_uid
    assert entry["input_sha256"] == scan.volume.sha256
    text = window.audit_path.read_text()
    assert "Baby" not in text and "P-0001" not in text and "2026-01-01" not in text


def test_export_as_dicom_writes_sr_and_sc_in_the_study(qtbot, window, one_series, tmp_path):
    scan = open_and_wait(qtbot, window, one_series)
    assert not window.dicom.export_action.isEnabled()  # nothing analysed yet
    heatmap = np.zeros(scan.volume.shape, np.float32)
    heatmap[8:12, 8:12, 4:8] = 1.0
    window.state.set_result(make_result(scan.volume, heatmap, 0.81), card=None)
    assert window.dicom.export_action.isEnabled()
    with qtbot.waitSignal(window.dicom.exported, timeout=WAIT_MS) as done:
        window.dicom.export_to(tmp_path / "to-pacs")
    files = done.args[0]
    sr, sc = pydicom.dcmread(files.sr_path), pydicom.dcmread(files.sc_path)
    assert sr.StudyInstanceUID == sc.StudyInstanceUID == scan.volume.extra["dicom"].study_uid
    probability = next(
        float(i.MeasuredValueSequence[0].NumericValue)
        for i in sr.ContentSequence
        if i.ConceptNameCodeSequence[0].CodeMeaning.startswith("Probability of brain injury (TTA")
    )
    assert probability == pytest.approx(0.81)
    assert sc.pixel_array.shape[2] == 3


def test_main_py_with_a_folder_opens_it(qtbot, one_series, random_weights):
    from viewer.app import build

    _app, window = build(["main.py", str(one_series), "--weights", str(random_weights)])
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.state.scan is not None, timeout=WAIT_MS)
    assert window.state.scan.name == "DICOM series 3"
