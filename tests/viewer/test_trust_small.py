"""Issue 11, the smaller items: each test fails on the code before the fix."""

import json
import logging
import subprocess
import sys

import numpy as np
from PyQt6.QtWidgets import QGraphicsView

from tests.viewer.helpers import head_scan, make_result

LONG_MESSAGE = "Saved /home/reader/Documents/sub-0123_ses-01_T2w_views.png (heatmap on the input's grid)"


def test_window_does_not_widen_for_the_banner_and_messages_are_not_cut(qtbot, make_window):
    window = make_window(size=(1200, 650))
    assert window.width() == 1200
    scan = head_scan()
    window.state.set_scan(scan)
    window.state.set_result(
        make_result(scan.volume, np.zeros(scan.volume.shape, np.float32), demonstration=True), card=None
    )
    assert window.panel.demo_banner.isVisible()
    window.statusBar().showMessage(LONG_MESSAGE)
    qtbot.wait(50)
    assert window.width() == 1200  # the banner did not make the window wider
    sb = window.statusBar()
    widgets = (
        window.readout_label,
        window.copy_button,
        window.level_width_label,
        window.convention_status,
        window.model_label,
        window.device_label,
    )
    beside = sum(w.width() for w in widgets if w.isVisible())  # what stays on screen next to the message
    assert sb.fontMetrics().horizontalAdvance(LONG_MESSAGE) + beside < sb.width()  # room for the whole message
    assert window.model_label.isVisible() and window.model_label.width() >= 60  # the model is still named


def test_crosshair_lines_leave_no_stale_segments(qtbot, window):
    """Coronal and sagittal images do not fill their views: the moving lines must repaint the whole
    viewport, or segments of the old lines stay drawn above and below the image."""
    window.state.set_scan(head_scan())
    for view in window.ortho.views.values():
        assert view.graphics.viewportUpdateMode() == QGraphicsView.ViewportUpdateMode.FullViewportUpdate


def test_screenshot_carries_the_banner_and_the_caveat(qtbot, window, tmp_path):
    from PyQt6.QtGui import QImage

    scan = head_scan()
    window.state.set_scan(scan)
    window.state.set_result(
        make_result(scan.volume, np.zeros(scan.volume.shape, np.float32), demonstration=True), card=None
    )
    path = window.export_screenshot(tmp_path / "views.png")
    image = QImage(str(path))
    views = window.ortho.grab()
    assert image.height() > views.height()  # a caption strip was added under the views
    from viewer.views.screenshot import screenshot_caption

    caption = screenshot_caption(window)
    assert "Demonstration weights" in caption and "not a lesion outline" in caption and "Research use only" in caption


def test_pdf_export_does_not_spam_font_subsetting_logs(tmp_path, caplog):
    from model.record.report import Report, write_report

    font_logger = logging.getLogger("fontTools")
    before = font_logger.level
    font_logger.setLevel(logging.NOTSET)  # as in a fresh process: the root's DEBUG level applies
    try:
        with caplog.at_level(logging.DEBUG):  # as an app started with --verbose would log
            write_report(tmp_path / "r.pdf", Report(title="t", sections=[("S", [("a", "b")])]))
    finally:
        font_logger.setLevel(before)
    font_lines = [r for r in caplog.records if r.name.startswith("fontTools")]
    assert len(font_lines) == 0, f"{len(font_lines)} fontTools log lines"


def _run(module, *args):
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=300)


def test_predict_json_reports_bad_input_as_json(tmp_path):
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"not a nifti")
    proc = _run("model.predict", str(bad), "--json")
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    assert out["error"].startswith(str(bad)) and out["scan"] == str(bad) and out["exit_code"] == 1


def test_unusable_weights_exit_the_same_in_predict_and_score(tmp_path):
    import nibabel as nib

    from model.predict import EXIT_BAD_WEIGHTS

    scans = tmp_path / "scans"
    scans.mkdir()
    data = np.zeros((20, 20, 20), np.float32)
    data[5:15, 5:15, 5:15] = np.random.default_rng(0).uniform(1, 2, (10, 10, 10))
    nib.save(nib.Nifti1Image(data, np.eye(4)), scans / "a.nii.gz")
    empty = tmp_path / "no-weights"
    empty.mkdir()
    p = _run("model.predict", str(scans / "a.nii.gz"), "--weights", str(empty), "--device", "cpu")
    s = _run("model.score", str(scans), "--out", str(tmp_path / "w.csv"), "--weights", str(empty), "--device", "cpu")
    assert p.returncode == s.returncode == EXIT_BAD_WEIGHTS == 2
    assert str(empty) in p.stderr and str(empty) in s.stderr
