"""Issue 11: reader-first blinding holds in every place a result can appear, and ``ai_shown`` tells the
truth whatever the toggles did. The tests drive the toggles as a reader would."""

import pytest
from PyQt6.QtCore import Qt

from model.bids import ScanEntry
from model.score import COLUMNS, ScoreEvent
from tests.viewer.helpers import audit_entries, head_scan, show_result


@pytest.fixture
def reading(window):
    window.settings.reader_name = "Dr Test"
    scan = head_scan()
    scan.volume.sha256 = "ef" * 32
    window.state.set_scan(scan)
    window.set_layout("2x2")  # the info tile is part of the view
    return window


def _everything_hidden(window):
    st = window.state
    assert not st.result_visible
    assert window.ortho.info.probability_label.text() == "hidden"  # the 2x2 tile
    assert not any(v.overlay_item.isVisible() for v in window.ortho.views.values())  # heatmap
    assert not window.goto_peak_action.isEnabled() and not window.report_action.isEnabled()
    assert not window.heatmap_export_action.isEnabled()
    cursor = st.cursor
    window.go_to_heatmap_peak()
    assert st.cursor == cursor  # go-to-maximum does not jump to (and so reveal) the peak
    assert window.export_report() is None and window.export_heatmap() is None


def test_toggling_reader_first_off_and_on_is_recorded_as_shown(qtbot, reading):
    window = reading
    window.reader_first_action.setChecked(True)
    show_result(window)
    _everything_hidden(window)
    window.reader_first_action.setChecked(False)  # peek
    assert window.state.result_visible
    window.reader_first_action.setChecked(True)  # and hide again
    _everything_hidden(window)
    window.record_impression("injury")
    assert audit_entries(window)[-1]["ai_shown"] is True  # it WAS shown (today's code logs false)


def test_reader_first_from_the_start_records_not_shown_then_shows(qtbot, reading):
    window = reading
    window.reader_first_action.setChecked(True)
    show_result(window)
    window.record_impression("normal")
    assert audit_entries(window)[-1]["ai_shown"] is False
    assert window.state.result_visible and window.ortho.info.probability_label.text() != "hidden"
    window.record_decision("reject")
    assert audit_entries(window)[-1]["ai_shown"] is True


def test_impression_recorded_for_a_scan_holds_when_it_is_reopened(qtbot, reading):
    window = reading
    window.reader_first_action.setChecked(True)
    scan = window.state.scan
    show_result(window)
    window.record_impression("normal")
    other = head_scan(seed=3)
    other.volume.sha256 = "12" * 32
    window.state.set_scan(other)
    show_result(window)
    assert not window.state.result_visible  # a new scan is blinded again
    window.state.set_scan(scan)
    show_result(window)
    assert window.state.result_visible and window.state.impression == "normal"


def _event(name, sha, p, flag):
    row = {c: "" for c in COLUMNS}
    row.update(file=name, status="scored", p_injury=f"{p:.6f}", tta_disagreement="0.01", flag=flag, input_sha256=sha)
    return ScoreEvent(row=row, done=1, total=2, skipped=False)


def test_batch_worklist_hides_results_of_scans_without_an_impression(qtbot, reading, tmp_path, monkeypatch):
    from viewer.batch.dialog import BatchDialog

    window = reading
    window.reader_first_action.setChecked(True)
    dialog = BatchDialog(window, cache_dir=tmp_path / "cache")
    dialog.model.set_entries([ScanEntry(tmp_path / "a.nii", "a.nii"), ScanEntry(tmp_path / "b.nii", "b.nii")])
    dialog.model.apply_event(_event("a.nii", "ef" * 32, 0.9, "above threshold"))  # the scan open in the window
    dialog.model.apply_event(_event("b.nii", "34" * 32, 0.1, "below threshold"))
    col = {k: dialog.model.column[k] for k in ("p_injury", "flag", "tta_disagreement")}

    def cell(row, key, role=Qt.ItemDataRole.DisplayRole):
        return dialog.proxy.index(row, col[key]).data(role)

    assert [cell(r, k) for r in range(2) for k in col] == ["hidden"] * 6
    assert cell(0, "flag", Qt.ItemDataRole.BackgroundRole) is None  # no flag colour either
    dialog.flag_combo.setCurrentText("Above threshold")
    assert dialog.proxy.rowCount() == 0  # the flag filter does not reveal the flag
    dialog.flag_combo.setCurrentText("All rows")
    dialog.filter_edit.setText("above")
    assert dialog.proxy.rowCount() == 0  # nor does the text filter
    dialog.filter_edit.setText("")

    window.record_impression("normal")  # for scan a only
    shown = {dialog.proxy.index(r, 0).data(): cell(r, "p_injury") for r in range(2)}
    assert shown == {"a.nii": "90.0 %", "b.nii": "hidden"}
    assert not window.state.blinding.ever_shown("34" * 32)

    asked = []
    monkeypatch.setattr(dialog, "confirm_reveal", lambda n: asked.append(n) or False)
    assert dialog.export_csv(tmp_path / "w.csv") is None and asked == [1]
    monkeypatch.setattr(dialog, "confirm_reveal", lambda n: True)
    assert dialog.export_csv(tmp_path / "w.csv") is not None
    assert window.state.blinding.ever_shown("34" * 32)  # exporting counts as seeing it

    window.reader_first_action.setChecked(False)
    assert cell(1, "p_injury") == "10.0 %"
