"""Issue 30: what a new user found in an hour. Each test fails on the code before the fix.

1. an out-of-distribution result's probability and heatmap show nowhere (tile, readout, status bar,
   screenshot, heatmap export) unless "show anyway" is ticked (one rule: model.disclosure);
3. reader-first mode shows the out-of-distribution notice before the impression;
4. a site key created on a valid unsigned log keeps the log valid: signing starts there;
5. the ruler belongs to its scan, records the side; History names entries and rounds as the screen;
   the built-in sample's record is found again;
6. the window never grows past the screen (long identifiers elide);
8. the accept-a-contradiction prompt says "below threshold"; the decision buttons show what was recorded;
9. file dialogs start in the user's folders, never the program's; no key in the program's folder; the
   batch folder field is typeable and its progress bar does not read "0/1" before; the model label elides;
10. the PMA entry sits with the scan and the result;
and faults: the disk fills or permission is denied while writing a heatmap, a worklist CSV or the
audit log: nothing half-written is left, the reader is told, the app goes on.
"""

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtCore import QPoint
from PyQt6.QtGui import QGuiApplication
from PyQt6.QtWidgets import QFileDialog, QMessageBox

from model.heatmap import HEATMAP_CAPTION
from model.ood_gate import OODVerdict
from model.record.audit import AuditLogError
from tests.viewer.helpers import WAIT_MS, audit_entries, head_scan, make_result, open_and_wait, show_result
from viewer.batch.dialog import open_batch_dialog
from viewer.panels import decision_history
from viewer.views.screenshot import screenshot_caption

REASON = "head size 3989 ml, 186 x 218 mm (left-right x front-back) is not that of an infant of 28-44 weeks"


def _show_ood(window, p=0.91):
    volume = window.state.volume
    ramp = np.broadcast_to(np.linspace(0.2, 1.0, volume.shape[0], dtype=np.float32)[:, None, None], volume.shape)
    result = make_result(volume, ramp.copy(), p)
    result.ood = OODVerdict(reasons=[REASON])
    window.state.set_result(result, card=None)
    return result


# -- 1. one rule for what an out-of-distribution result may show -------------------------------------------
def test_an_out_of_distribution_probability_shows_nowhere_unless_asked_for(qtbot, reading, tmp_path):
    window = reading
    _show_ood(window)
    window.set_layout("2x2")
    tile = window.ortho.info
    qtbot.waitUntil(tile.isVisible)
    assert "%" not in tile.probability_label.text() + tile.flag_label.text()  # was "91.0 %" in large type
    assert tile.ood_label.isVisible() and REASON in tile.ood_label.text()
    assert tile.values["heatmap"].text() == "—"  # no value of a heatmap that is not drawn
    assert "heatmap" not in window.readout_label.text()  # the status bar neither
    assert "heatmap" not in window.copy_location()
    caption = screenshot_caption(window)
    assert f"WARNING: Outside what these weights were trained on: {REASON}" in caption
    assert HEATMAP_CAPTION not in caption
    assert not window.heatmap_export_action.isEnabled() and not window.goto_peak_action.isEnabled()
    assert window.export_heatmap(tmp_path / "heatmap.nii.gz") is None and not (tmp_path / "heatmap.nii.gz").exists()
    assert "outside what the weights were trained on" in window.last_error
    assert window.export_screenshot(tmp_path / "views.png") is not None  # the views, without the call

    window.panel.ood_notice.show_anyway.setChecked(True)  # on request: shown everywhere, as not a call
    assert tile.probability_label.text() == "91.0 %" and "not a call" in tile.flag_label.text()
    assert tile.values["heatmap"].text() != "—" and "heatmap" in window.readout_label.text()
    caption = screenshot_caption(window)
    assert HEATMAP_CAPTION in caption and "(shown anyway: not a call)" in caption
    assert window.heatmap_export_action.isEnabled()
    assert window.export_heatmap(tmp_path / "heatmap.nii.gz") == tmp_path / "heatmap.nii.gz"


# -- 3. suitability before the impression ------------------------------------------------------------------
def test_reader_first_mode_shows_the_out_of_distribution_notice_before_the_impression(qtbot, reading):
    window = reading
    window.set_reader_first(True)
    _show_ood(window)
    panel, notice = window.panel, window.panel.ood_notice
    assert notice.isVisibleTo(panel) and REASON in notice.notice_label.text()
    assert not notice.show_anyway.isVisibleTo(panel)  # it would reveal the hidden result
    assert not panel.result_box.isVisibleTo(panel)  # the AI result itself stays hidden
    window.set_layout("2x2")
    tile = window.ortho.info
    qtbot.waitUntil(tile.isVisible)
    assert tile.ood_label.isVisible() and tile.probability_label.text() == "hidden"
    assert not window.state.ai_ever_shown  # the notice is not the AI result

    window.record_impression("normal")
    assert notice.show_anyway.isVisibleTo(panel)
    notice.show_anyway.setChecked(True)
    window.record_decision("reject", reason="adult scan")
    assert notice.show_anyway.isChecked() and window.state.ood_revealed  # a decision does not undo the choice
    assert all(view.overlay_item.isVisible() for view in window.ortho.views.values())


# -- 4. a signing key on a valid unsigned log -------------------------------------------------------------
def test_a_site_key_created_on_a_valid_unsigned_log_signs_from_there(qtbot, reading, tmp_path, monkeypatch):
    window = reading
    show_result(window, 0.7)
    window.record_impression("unsure")
    window.record_decision("accept")
    public = window.recorder.use_key_file(tmp_path / "keys" / "site.pem", create=True)
    monkeypatch.setattr(window.recorder, "confirm_append_after_break", lambda r: pytest.fail(r.message()))

    report = window.verify_audit_log()
    assert report.ok and report.n_unsigned == 2
    text = window.last_message_box.text()
    assert "Lines 1-2 were recorded before the site signing key was configured and are unsigned" in text
    assert window.record_decision("reject", reason="second look") is not None  # no "Record anyway?"
    entries = audit_entries(window)
    assert "signature" not in entries[1] and entries[2]["signer"] == public and entries[2]["signature"]
    report = window.verify_audit_log()
    assert report.ok and "line 3 is signed by the site key" in window.last_message_box.text()
    signatures = window.exports.reading_record().signatures
    assert "lines 1-2" in signatures and "line 3 is signed" in signatures and "every entry" not in signatures


# -- 5. the ruler, the side, the History --------------------------------------------------------------------
def test_the_ruler_belongs_to_its_scan(qtbot, reading):
    window = reading
    ruler = window.measure.place_ruler()
    assert ruler.roi.scene() is not None and window.measure.length_label.text() != "—"
    window.state.set_scan(head_scan(seed=3))  # the next baby
    assert window.measure.ruler is None and window.measure.length_label.text() == "—"
    assert ruler.roi.scene() is None and ruler.label.scene() is None  # no longer drawn


def test_the_side_is_recorded_and_history_names_entries_as_the_screen_rounds(qtbot, reading):
    window = reading
    window.ortho.set_active_plane("axial")
    panel = window.measure
    assert panel.measure_combo.currentData() == "atrial_width"
    ruler = panel.place_ruler()
    ruler.set_ends_mm((15.0, 5.0), (20.0, 9.0))  # on the patient's right (i grows to the right), 6.403 mm
    assert panel.side_combo.currentData() == "right"
    right = panel.keep()
    assert right["measurement"]["side"] == "right" and right["measurement"]["length_mm"] == pytest.approx(6.403)
    ruler.set_ends_mm((3.0, 5.0), (8.0, 9.0))
    assert panel.side_combo.currentData() == "left" and panel.keep()["measurement"]["side"] == "left"
    show_result(window, 0.9)
    window.record_impression("injury")
    window.record_decision("accept")
    table = window.history.table
    kinds = [table.item(r, 3).text() for r in range(table.rowCount())]
    assert kinds == [
        "Measurement: Atrial width of the lateral ventricle, right: 6.4 mm",
        "Measurement: Atrial width of the lateral ventricle, left: 6.4 mm",
        "Impression",
        "Decision: accept",
    ]
    assert "6.403" not in " ".join(kinds)
    caption = window.history.caption.text()
    assert caption.startswith("4 entries: 1 impression, 1 decision on the AI result, 2 measurements")
    assert "Atrial width of the lateral ventricle, right: 6.4 mm" in panel.kept_label.text()


@pytest.mark.slow
def test_history_of_the_built_in_sample_is_found_again(qtbot, window):
    window.settings.reader_name = "Dr Test"
    with qtbot.waitSignal(window.scan_loaded, timeout=WAIT_MS):
        window.open_sample()
    assert window.state.volume.sha256
    window.record_impression("normal")
    assert window.history.table.rowCount() == 1 and "1 entry: 1 impression" in window.history.caption.text()
    window.state.set_scan(head_scan())
    with qtbot.waitSignal(window.scan_loaded, timeout=WAIT_MS):
        window.open_sample()  # the same sample again: its record is found
    assert window.history.table.rowCount() == 1 and window.state.impression == "normal"


# -- 6. the window and the screen ---------------------------------------------------------------------------
def test_the_window_never_grows_past_the_screen(qtbot, make_window, tmp_path):
    from tests.model.dicom_series import head, oblique_affine, write_series

    screen = QGuiApplication.primaryScreen().availableGeometry().width()  # offscreen: a small screen, 800 px
    window = make_window(size=(screen, 600))
    assert window.minimumSizeHint().width() <= screen
    folder = tmp_path / "study"
    name = "Verylongfamilyname-Anotherfamilyname^Firstname Middle"
    description = "T2 FRFSE AX NEONATAL BRAIN 2MM PROPELLER MOTION CORRECTED"
    write_series(
        folder,
        head(1, (20, 22, 12)),
        oblique_affine(),
        number=3,
        description=description,
        patient=(name, "P-0001234567", "20260101"),
    )
    for _ in range(2):  # it happened again on the next open
        scan = open_and_wait(qtbot, window, folder)
        qtbot.wait(20)
        assert window.width() <= screen and window.minimumSizeHint().width() <= screen
    bar = window.dicom.bar_label
    assert bar.is_elided() and "Verylongfamilyname-Anotherfamilyname" in bar.toolTip()
    assert window.ortho.oblique_label.isVisible()
    result = make_result(scan.volume, np.zeros(scan.volume.shape, np.float32), 0.9)
    result.ood = OODVerdict(reasons=[REASON, "the features are unlike the training scans (distance 40.1 > 20.0)"])
    window.state.set_result(result, card=None)
    window.set_layout("2x2")
    qtbot.wait(20)
    assert window.width() <= screen


# -- 8. one vocabulary, and the decision buttons -------------------------------------------------------------
def test_contradiction_prompt_says_below_threshold_and_buttons_show_the_decision(qtbot, reading, monkeypatch):
    window = reading
    show_result(window, 0.1)  # below threshold
    window.record_impression("injury")
    asked = []
    monkeypatch.setattr(decision_history.QInputDialog, "getText", lambda *a, **k: asked.append(a[2]) or ("", False))
    buttons = window.reader_panel.decision_buttons
    buttons["accept"].click()
    assert "the AI result is 'below threshold'" in asked[0] and "'normal'" not in asked[0]
    assert not buttons["accept"].isChecked()  # nothing was recorded: nothing shows selected

    monkeypatch.setattr(decision_history.QInputDialog, "getText", lambda *a, **k: ("small bleed", True))
    buttons["accept"].click()
    assert buttons["accept"].isChecked() and not buttons["reject"].isChecked()
    buttons["reject"].click()
    assert buttons["reject"].isChecked() and not buttons["accept"].isChecked()
    window.state.set_scan(head_scan(seed=2))
    assert not any(b.isChecked() for b in buttons.values())


# -- 9. dialogs, keys, batch, status bar ------------------------------------------------------------------------
def test_file_dialogs_start_in_the_users_folders_never_the_programs(qtbot, window, tmp_path, monkeypatch):
    from viewer.services.settings import PROGRAM_FOLDER, default_export_folder, in_program_folder

    monkeypatch.chdir(PROGRAM_FOLDER)  # started from its own folder, as on the workstation
    starts = []

    def folder(_parent, _caption, directory="", *_a, **_k):
        starts.append(directory)
        return ""

    def file(_parent, _caption, directory="", *_a, **_k):
        starts.append(directory)
        return "", ""

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", folder)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", file)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", file)
    window.open_dialog()
    window.dicom.open_folder_dialog()
    window.load_weights_dialog()
    dialog = open_batch_dialog(window)
    dialog.choose_folder()
    dialog.choose_cams_dir()
    buttons = []
    add = QMessageBox.addButton
    monkeypatch.setattr(QMessageBox, "addButton", lambda self, *a: buttons.append(add(self, *a)) or buttons[-1])
    monkeypatch.setattr(QMessageBox, "exec", lambda self: 0)
    for which in (0, 1):  # "Use a key file…", "Create a new key…"
        monkeypatch.setattr(QMessageBox, "clickedButton", lambda self, w=which: buttons[-2 + w])
        window.recorder.configure_dialog()
    assert len(starts) == 7 and all(starts), starts
    assert not any(in_program_folder(s) for s in starts), starts
    assert starts[0] == str(default_export_folder()) and starts[-1].endswith("site-signing-key.pem")

    window.settings.last_open_folder = str(tmp_path)  # the last folder used wins
    window.open_dialog()
    assert starts[-1] == str(tmp_path)
    with pytest.raises(AuditLogError, match="program's folder"):
        window.recorder.use_key_file(PROGRAM_FOLDER / "site-signing-key.pem", create=True)
    assert not (PROGRAM_FOLDER / "site-signing-key.pem").exists() and not window.recorder.public_key


def test_batch_folder_is_typeable_and_its_progress_starts_empty(qtbot, window, tmp_path):
    import nibabel as nib

    dialog = open_batch_dialog(window)
    assert dialog.progress_bar.text() == ""  # was "0/1" before any folder
    assert not dialog.folder_edit.isReadOnly()
    scans = tmp_path / "scans"
    scans.mkdir()
    nib.save(nib.Nifti1Image(np.ones((8, 8, 8), np.float32), np.eye(4)), scans / "a.nii.gz")
    dialog.folder_edit.setText(str(scans))
    dialog.folder_edit.editingFinished.emit()
    assert dialog.folder == scans.resolve() and dialog.model.rowCount() == 1
    assert dialog.progress_bar.text() == "0/1"
    dialog.folder_edit.setText(str(tmp_path / "missing"))
    dialog.folder_edit.editingFinished.emit()
    assert "is not a folder" in dialog.message_label.text() and dialog.folder == scans.resolve()


def test_model_label_elides_instead_of_being_cut(qtbot, make_window):
    window = make_window(size=(800, 600))
    label = window.model_label
    shown, full = label.shown_text(), label.text()
    assert full.startswith("Model: random-test v0.0 (demo)")
    assert shown == full or (shown.endswith("…") and full.startswith(shown[:-1]))
    assert label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width()


# -- 10. the PMA with the scan and the result -----------------------------------------------------------------
def test_pma_entry_sits_with_the_scan_and_the_result(qtbot, reading):
    window = reading
    show_result(window, 0.9)
    panel, pma = window.panel, window.measure.pma_box
    assert panel.isAncestorOf(pma) and not window.measure.isAncestorOf(pma)
    qtbot.wait(10)

    def y(widget):
        return widget.mapTo(panel, QPoint(0, 0)).y()

    assert y(pma) < y(panel.result_box) < y(panel.heatmap_box)


# -- faults: disk full, permission denied ------------------------------------------------------------------------
def test_disk_full_or_permission_denied_writing_a_heatmap(qtbot, reading, tmp_path, monkeypatch):
    from model import fileio

    window = reading
    show_result(window, 0.6)
    out = tmp_path / "exports"
    out.mkdir()

    def disk_full(_img, path):
        Path(path).write_bytes(b"\0" * 1000)  # part of the file was written
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(fileio.nib, "save", disk_full)
        assert window.export_heatmap(out / "heatmap.nii.gz") is None
    assert os.listdir(out) == [] and "No space left on device" in window.last_error

    def denied(*_a, **_k):
        raise PermissionError(errno.EACCES, "Permission denied")

    with monkeypatch.context() as m:
        m.setattr(fileio.tempfile, "mkstemp", denied)  # a folder the reader may not write in
        assert window.export_heatmap(out / "heatmap.nii.gz") is None
    assert os.listdir(out) == [] and "Permission denied" in window.last_error
    assert window.export_heatmap(out / "heatmap.nii.gz") == out / "heatmap.nii.gz"  # the app goes on


def test_disk_full_writing_a_worklist_csv_keeps_the_old_file(qtbot, window, tmp_path, monkeypatch):
    from model import fileio
    from model.bids import ScanEntry
    from model.score import COLUMNS, ScoreEvent

    dialog = open_batch_dialog(window)
    entry = ScanEntry(path=tmp_path / "a.nii.gz", relpath="a.nii.gz")
    dialog.model.set_entries([entry])
    row = {c: "" for c in COLUMNS} | {"file": "a.nii.gz", "status": "scored", "p_injury": "0.5"}
    dialog.model.apply_event(ScoreEvent(row=row, done=1, total=1, skipped=False))
    target = tmp_path / "out" / "worklist.csv"
    target.parent.mkdir()
    target.write_text("the previous worklist")
    monkeypatch.setattr(dialog, "confirm_overwrite", lambda path: True)

    real_fsync = os.fsync

    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileio.os, "fsync", full)
    assert dialog.export_csv(target) is None
    assert "No space left on device" in dialog.message_label.text() and dialog.message_label.property("error")
    assert target.read_text() == "the previous worklist" and os.listdir(target.parent) == ["worklist.csv"]
    monkeypatch.setattr(fileio.os, "fsync", real_fsync)
    assert dialog.export_csv(target) == target and target.read_text().startswith(",".join(COLUMNS))


def test_disk_full_writing_the_audit_log_records_nothing_and_the_app_goes_on(qtbot, reading, monkeypatch):
    from model.record import audit

    window = reading
    window.record_impression("normal")
    before = window.audit_path.read_bytes()
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(audit.os, "write", half_then_full)
    assert window.record_impression("injury") is None
    assert "No space left on device" in window.last_error and window.audit_path.read_bytes() == before
    assert window.state.impression == "normal"  # nothing recorded, nothing changed
    monkeypatch.setattr(audit.os, "write", real_write)
    assert window.record_impression("injury") is not None and window.verify_audit_log().ok
