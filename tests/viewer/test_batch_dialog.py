"""Batch > Score folder: the dialog around model.score on small folders of tiny scans."""

import csv
import gzip
import threading
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtGui import QKeySequence

from model.bids import ScanEntry
from model.score import COLUMNS, ScoreEvent, read_worklist
from tests.viewer.helpers import WAIT_MS
from viewer.batch import dialog as batch_dialog
from viewer.batch import jobs as batch_jobs
from viewer.batch.dialog import (
    FAILED,
    QUEUED,
    SCORED,
    SKIPPED,
    SORT_ROLE,
    BatchDialog,
    WorklistModel,
    WorklistProxy,
    cache_path,
    format_eta,
    install_batch_menu,
)
from viewer.panels.result_panel import format_probability


def _scan(path, seed=0, shape=(20, 24, 18)):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.random.default_rng(seed).random(shape).astype(np.float32) * 100
    data[:2] = 0
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    return path


def _good_folder(root, n):
    for i in range(n):
        _scan(root / f"case{i:02d}.nii.gz", seed=i)
    return root


def _mixed_folder(root):
    _scan(root / "good1.nii.gz", 1)
    _scan(root / "nested" / "good2.nii", 2)
    raw = (root / "good1.nii.gz").read_bytes()
    (root / "truncated.nii.gz").write_bytes(raw[: len(raw) // 2])
    (root / "text.nii.gz").write_bytes(gzip.compress(b"hello, not a scan"))
    (root / "notes.txt").write_text("not a scan")
    return root


@pytest.fixture
def window(qtbot, small_weights):
    from viewer.main_window import MainWindow

    w = MainWindow(weights_dir=small_weights, device="cpu")
    qtbot.addWidget(w)
    w.resize(1000, 650)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "app-data" / "worklists"
    monkeypatch.setattr(batch_dialog, "worklist_cache_dir", lambda: folder)
    return folder


@pytest.fixture
def dialog(qtbot, window, cache_dir):
    install_batch_menu(window).trigger()
    dlg = window.findChild(BatchDialog)
    qtbot.waitExposed(dlg)
    return dlg


def run_batch(qtbot, dialog):
    """Start the dialog's run and wait for its end; returns "done", "cancelled" or "failed"."""
    with qtbot.waitSignal(dialog.run_finished, timeout=WAIT_MS) as blocker:
        assert dialog.start() is not None
    return blocker.args[0]


def table(dialog, key, role=Qt.ItemDataRole.DisplayRole):
    """Column ``key`` as shown (through the sort/filter proxy), top to bottom."""
    col = dialog.model.column[key]
    return [dialog.proxy.index(r, col).data(role) for r in range(dialog.proxy.rowCount())]


def shown(dialog):
    """{file: {column key: shown text}} of the rows the table shows."""
    keys = [k for k, _, _ in WorklistModel.COLUMNS]
    return {row[0]: dict(zip(keys, row)) for row in zip(*(table(dialog, k) for k in keys))}


def test_menu_opens_one_non_modal_dialog_using_the_cache_dir(qtbot, window, cache_dir):
    action = install_batch_menu(window)
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles.index("Batch") == titles.index("Help") - 1
    assert action.shortcut() == QKeySequence("Ctrl+B") and action.text().replace("&", "") == "Score folder…"
    assert install_batch_menu(window) is action and titles.count("Batch") == 1  # idempotent
    action.trigger()
    dlg = window.findChild(BatchDialog)
    assert dlg is not None and dlg.isVisible() and not dlg.isModal() and dlg.cache_dir == cache_dir
    action.trigger()
    assert window.findChildren(BatchDialog) == [dlg]


def test_mixed_folder_fills_the_worklist_with_statuses_and_reasons(qtbot, dialog, tmp_path, cache_dir):
    folder = _mixed_folder(tmp_path / "scans")
    assert dialog.set_folder(folder)
    assert not dialog.bids_check.isChecked() and dialog.found_label.text() == "4 scans found"
    assert set(table(dialog, "status")) == {QUEUED} and dialog.start_button.isEnabled()

    assert run_batch(qtbot, dialog) == "done"
    rows = shown(dialog)
    assert set(rows) == {"good1.nii.gz", "nested/good2.nii", "truncated.nii.gz", "text.nii.gz"}
    for name in ("good1.nii.gz", "nested/good2.nii"):
        r = rows[name]
        assert r["status"] == SCORED and r["reason"] == ""
        assert r["flag"] == "Out of distribution"  # tiny random-noise scans: the gate says they are not heads
        assert r["p_injury"].endswith(" %") and r["tta_disagreement"].endswith(" pts")
    assert rows["truncated.nii.gz"]["status"] == FAILED and "truncated or damaged" in rows["truncated.nii.gz"]["reason"]
    assert rows["text.nii.gz"]["status"] == FAILED and "cannot be read as NIfTI" in rows["text.nii.gz"]["reason"]
    assert rows["text.nii.gz"]["p_injury"] == rows["text.nii.gz"]["flag"] == ""
    # P(injury) is the model's row, shown as a percentage; the flag cell is coloured
    item = next(it for it in dialog.model.items() if it.entry.relpath == "good1.nii.gz")
    assert rows["good1.nii.gz"]["p_injury"] == format_probability(float(item.row["p_injury"]))
    flag_col = dialog.model.column["flag"]
    row = table(dialog, "file").index("good1.nii.gz")
    assert dialog.proxy.index(row, flag_col).data(Qt.ItemDataRole.BackgroundRole) is not None
    assert dialog.progress_bar.value() == dialog.progress_bar.maximum() == 4
    assert "2 scored, 2 failed" in dialog.message_label.text()
    assert "Skipped" not in dialog.message_label.text()
    assert len(read_worklist(cache_path(cache_dir, folder))) == 4
    assert dialog.export_button.isEnabled() and not dialog.cancel_button.isEnabled()


def test_bids_folder_filters_t2w_by_default_and_fills_subject_and_session(qtbot, dialog, tmp_path):
    root = tmp_path / "bids"
    _scan(root / "sub-01" / "ses-A" / "anat" / "sub-01_ses-A_T2w.nii.gz", 1)
    _scan(root / "sub-01" / "ses-A" / "anat" / "sub-01_ses-A_T1w.nii.gz", 2)
    _scan(root / "sub-02" / "anat" / "sub-02_T2w.nii.gz", 3)
    dialog.set_folder(root)
    assert dialog.bids_check.isChecked()
    assert dialog.found_label.text() == "2 scans found (2 subjects)"
    assert table(dialog, "subject") == ["01", "02"] and table(dialog, "session") == ["A", ""]
    dialog.bids_check.setChecked(False)
    assert dialog.model.rowCount() == 3


def test_cancel_stops_at_the_next_case_and_keeps_what_is_done(qtbot, dialog, tmp_path, cache_dir, monkeypatch):
    folder = _good_folder(tmp_path / "scans", 8)
    waiting, gate = threading.Event(), threading.Event()
    real_steps = batch_jobs.score_steps

    def gated_steps(*args, **kwargs):  # the second case waits until the test has pressed Cancel
        steps = real_steps(*args, **kwargs)
        yield next(steps)
        waiting.set()
        gate.wait(WAIT_MS / 1000)
        return (yield from steps)

    monkeypatch.setattr(batch_jobs, "score_steps", gated_steps)
    dialog.set_folder(folder)
    try:
        with qtbot.waitSignal(dialog.run_finished, timeout=WAIT_MS) as blocker:
            dialog.start()
            qtbot.waitUntil(lambda: waiting.is_set() and dialog.progress_bar.value() == 1, timeout=WAIT_MS)
            assert dialog.running and "scoring" in table(dialog, "status")
            assert "left" in dialog.eta_label.text()
            qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
            assert not dialog.cancel_button.isEnabled()
            gate.set()
    finally:
        gate.set()
    assert blocker.args == ["cancelled"]
    statuses = table(dialog, "status")
    assert statuses == [SCORED, SCORED] + [QUEUED] * 6  # the case under way finished and was kept
    assert "Cancelled after 2 of 8" in dialog.message_label.text()
    cached = read_worklist(cache_path(cache_dir, folder))
    assert [r["file"] for r in cached] == ["case00.nii.gz", "case01.nii.gz"]
    assert dialog.start_button.isEnabled() and not dialog.running


def test_rerun_skips_cases_scored_with_the_same_weights_and_says_so(qtbot, dialog, tmp_path, cache_dir):
    folder = _good_folder(tmp_path / "scans", 3)
    dialog.set_folder(folder)
    assert run_batch(qtbot, dialog) == "done"
    first = {it.entry.relpath: it.row["p_injury"] for it in dialog.model.items()}
    _scan(folder / "case03.nii.gz", seed=3)  # a new case since

    dialog.set_folder(folder)
    assert "3 cases in this folder were scored before" in dialog.message_label.text()
    assert run_batch(qtbot, dialog) == "done"
    assert "Skipped 3 already scored with these weights" in dialog.message_label.text()
    assert "1 scored, 0 failed" in dialog.message_label.text()
    assert table(dialog, "status") == [SKIPPED] * 3 + [SCORED]
    again = {it.entry.relpath: it.row["p_injury"] for it in dialog.model.items()}
    assert {f: again[f] for f in first} == first  # the cached rows, shown again
    assert len(read_worklist(cache_path(cache_dir, folder))) == 4


def _event(name, p=None, flag="", reason="", done=1):
    status = FAILED if reason else SCORED
    row = {c: "" for c in COLUMNS}
    row.update(file=name, status=status, reason=reason, flag=flag)
    if p is not None:
        row.update(p_injury=f"{p:.6f}", tta_disagreement="0.010000")
    return ScoreEvent(row=row, done=done, total=4, skipped=False)


def test_sorting_is_numeric_with_empty_cells_last_and_filters_narrow_rows(qtbot, tmp_path):
    model, proxy = WorklistModel(), WorklistProxy()
    proxy.setSourceModel(model)
    names = ["a.nii.gz", "b.nii.gz", "c.nii.gz", "d.nii.gz"]
    model.set_entries([ScanEntry(tmp_path / n, n) for n in names])
    model.apply_event(_event("a.nii.gz", 0.095, "below threshold"))  # "9.5 %": last as text
    model.apply_event(_event("b.nii.gz", 0.5, "indeterminate"))
    model.apply_event(_event("c.nii.gz", reason="truncated or damaged (gzip stream ends early)"))
    model.apply_event(_event("d.nii.gz", 0.102, "below threshold"))  # "10.2 %"
    col = model.column["p_injury"]

    def column(key=None):
        c = col if key is None else model.column[key]
        return [proxy.index(r, c).data() for r in range(proxy.rowCount())]

    proxy.sort(col, Qt.SortOrder.AscendingOrder)
    assert column() == ["9.5 %", "10.2 %", "50.0 %", ""]
    proxy.sort(col, Qt.SortOrder.DescendingOrder)
    assert column() == ["50.0 %", "10.2 %", "9.5 %", ""]
    assert [proxy.index(r, col).data(SORT_ROLE) for r in range(3)] == [0.5, 0.102, 0.095]

    proxy.set_flag_filter("Below threshold")
    assert column("file") == ["d.nii.gz", "a.nii.gz"]
    proxy.set_flag_filter("Failed")
    assert column("file") == ["c.nii.gz"]
    proxy.set_flag_filter("All rows")
    proxy.setFilterFixedString("TRUNCATED")  # case-insensitive, any column
    assert column("file") == ["c.nii.gz"]


def test_sorting_and_filtering_in_the_dialog(qtbot, dialog, tmp_path):
    dialog.set_folder(_mixed_folder(tmp_path / "scans"))
    run_batch(qtbot, dialog)
    header = dialog.table.horizontalHeader()
    col = dialog.model.column["p_injury"]
    centre = QPoint(header.sectionViewportPosition(col) + header.sectionSize(col) // 2, header.height() // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    values = table(dialog, "p_injury", SORT_ROLE)
    numbers = [v for v in values if v is not None]
    assert len(numbers) == 2 and values[2:] == [None, None]
    expected = sorted(numbers, reverse=header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder)
    assert numbers == expected

    dialog.flag_combo.setCurrentText("Failed")
    assert sorted(table(dialog, "file")) == ["text.nii.gz", "truncated.nii.gz"]
    assert dialog.shown_label.text() == "Showing 2 of 4"
    dialog.flag_combo.setCurrentText("All rows")
    qtbot.keyClicks(dialog.filter_edit, "nested")
    assert table(dialog, "file") == ["nested/good2.nii"]
    assert dialog.shown_label.text() == "Showing 1 of 4"


def test_export_writes_the_model_columns_and_never_overwrites_without_asking(qtbot, dialog, tmp_path, monkeypatch):
    folder = _mixed_folder(tmp_path / "scans")
    dialog.set_folder(folder)
    run_batch(qtbot, dialog)
    out = tmp_path / "out" / "worklist.csv"
    assert dialog.export_csv(out) == out
    with open(out, newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == COLUMNS
        rows = list(reader)
    assert sorted(r["status"] for r in rows) == [FAILED, FAILED, SCORED, SCORED]
    assert "Exported 4 rows" in dialog.message_label.text()

    out.write_text("keep me")
    asked = []
    monkeypatch.setattr(dialog, "confirm_overwrite", lambda path: asked.append(path) or False)
    assert dialog.export_csv(out) is None and out.read_text() == "keep me" and asked == [out]
    monkeypatch.setattr(dialog, "confirm_overwrite", lambda path: True)
    assert dialog.export_csv(out) == out and out.read_text().startswith(",".join(COLUMNS))

    from PyQt6.QtWidgets import QFileDialog

    offered = []
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda parent, caption, start, filt: (offered.append(start) or "", "")
    )
    assert dialog.export_csv() is None
    assert offered and folder not in Path(offered[0]).parents


def test_heatmaps_folder_is_refused_inside_the_scans_folder_and_written_elsewhere(qtbot, dialog, tmp_path):
    folder = _good_folder(tmp_path / "scans", 2)
    dialog.set_folder(folder)
    for bad in (folder, folder / "cams"):
        assert not dialog.set_cams_dir(bad)
        assert dialog.cams_dir is None and "cannot go into the scans folder" in dialog.message_label.text()
    cams = tmp_path / "cams"
    assert dialog.set_cams_dir(cams) and dialog.cams_edit.text() == str(cams.resolve())
    assert run_batch(qtbot, dialog) == "done"
    assert sorted(p.name for p in cams.iterdir()) == ["case00_cam.nii.gz", "case01_cam.nii.gz"]
    assert sorted(p.name for p in folder.iterdir()) == ["case00.nii.gz", "case01.nii.gz"]


def test_bad_weights_and_empty_folder_are_one_line_messages(qtbot, window, dialog, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no scans")
    dialog.set_folder(empty)
    assert dialog.message_label.text() == f"No .nii or .nii.gz files found in {empty.resolve()}"
    assert not dialog.start_button.isEnabled() and dialog.start() is None

    dialog.set_folder(_good_folder(tmp_path / "scans", 1))
    for weights in (tmp_path / "missing-weights", empty):
        window.weights_dir = weights
        assert run_batch(qtbot, dialog) == "failed"
        text = dialog.message_label.text()
        assert text.startswith("Cannot score: ") and "\n" not in text and "Traceback" not in text
        assert weights.name in text
        assert table(dialog, "status") == [QUEUED] and dialog.start_button.isEnabled()


def test_double_click_opens_the_case_in_the_viewer_and_analyses_it(qtbot, window, dialog, tmp_path):
    folder = _good_folder(tmp_path / "scans", 3)
    dialog.set_folder(folder)
    run_batch(qtbot, dialog)
    receivers = window.receivers(window.scan_loaded)
    row = table(dialog, "file").index("case01.nii.gz")
    index = dialog.proxy.index(row, dialog.model.column["file"])
    rect = dialog.table.visualRect(index)
    qtbot.mouseClick(dialog.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(dialog.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.state.result is not None, timeout=WAIT_MS)
    assert window.state.volume.path.resolve() == (folder / "case01.nii.gz").resolve()
    assert window.state.result.heatmap is not None
    assert window.receivers(window.scan_loaded) == receivers  # the one-shot connection is gone
    qtbot.waitUntil(lambda: not window.busy, timeout=WAIT_MS)


def test_closing_the_main_window_stops_a_running_batch_and_caches_it(qtbot, window, dialog, tmp_path, cache_dir):
    folder = _good_folder(tmp_path / "scans", 6)
    dialog.set_folder(folder)
    dialog.start()
    qtbot.waitUntil(lambda: dialog.progress_bar.value() >= 1, timeout=WAIT_MS)
    window.close()
    assert not dialog.running
    cached = read_worklist(cache_path(cache_dir, folder))
    assert 1 <= len(cached) <= 6 and all(r["status"] == SCORED for r in cached)


@pytest.mark.parametrize(
    "seconds, text",
    [(4.4, "about 4 s left"), (150, "about 2 min left"), (3900, "about 1 h 5 min left"), (float("inf"), "")],
)
def test_format_eta(seconds, text):
    assert format_eta(seconds) == text
