"""Exports (screenshot, PDF report, heatmap NIfTI), settings that persist, Help > Keyboard shortcuts,
and the desktop entry."""

import re
import shutil
import subprocess

import nibabel as nib
import numpy as np
import pytest
from PyQt6.QtGui import QAction, QImage, QKeySequence
from PyQt6.QtWidgets import QFileDialog, QMenu

from tests.viewer.helpers import WAIT_MS, make_result, open_and_wait, save_nifti
from viewer.services.settings import MAX_RECENT, Settings


@pytest.fixture
def las_file(tmp_path):
    """A small LAS-stored scan with a background, in its own 'input' folder."""
    rng = np.random.default_rng(0)
    data = np.zeros((14, 16, 12), np.float32)
    data[2:-2, 2:-2, 2:-2] = rng.uniform(50, 100, (10, 12, 8))
    affine = np.diag([-1.2, 1.0, 1.5, 1.0])
    affine[:3, 3] = (8.0, -7.0, -9.0)
    (tmp_path / "input").mkdir()
    return save_nifti(tmp_path / "input" / "baby.nii.gz", data, affine)


@pytest.fixture
def analysed(qtbot, window, las_file):
    """The window showing ``las_file`` with a (fake) result whose heatmap is a ramp along X."""
    scan = open_and_wait(qtbot, window, las_file)
    heatmap = np.broadcast_to(
        np.linspace(0, 1, scan.volume.shape[0], dtype=np.float32)[:, None, None], scan.volume.shape
    ).copy()
    window.state.set_result(make_result(scan.volume, heatmap, 0.81), card=None)
    window.settings.reader_name = "Dr Test"
    return window


def test_screenshot_is_a_full_resolution_png(qtbot, analysed, tmp_path):
    path = analysed.export_screenshot(tmp_path / "out" / "views.png")
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(path))
    ratio = analysed.ortho.devicePixelRatioF()
    assert image.width() == round(analysed.ortho.width() * ratio)  # full resolution, plus a caption strip below
    assert image.height() > round(analysed.ortho.height() * ratio)
    assert [p.name for p in path.parent.iterdir()] == ["views.png"]  # written atomically, no leftovers


def test_exports_ask_before_overwriting(qtbot, analysed, tmp_path, monkeypatch):
    target = tmp_path / "views.png"
    target.write_bytes(b"keep me")
    asked = []
    monkeypatch.setattr(analysed, "confirm_overwrite", lambda path: asked.append(path) or False)
    assert analysed.export_screenshot(target) is None
    assert target.read_bytes() == b"keep me" and asked == [target]
    monkeypatch.setattr(analysed, "confirm_overwrite", lambda path: True)
    assert analysed.export_screenshot(target) == target and target.read_bytes() != b"keep me"


def test_export_dialog_never_starts_in_the_input_folder(
    qtbot, analysed, las_file, tmp_path, monkeypatch, private_settings
):
    starts = []

    def fake_dialog(parent, title, start, *args, **kwargs):
        starts.append(start)
        return str(tmp_path / "chosen" / "mine"), ""

    (tmp_path / "chosen").mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", fake_dialog)
    path = analysed.export_screenshot()
    assert path == tmp_path / "chosen" / "mine.png" and path.is_file()  # the suffix is added
    assert str(las_file.parent) not in starts[0]
    assert starts[0].endswith("baby_views.png")
    monkeypatch.setattr(analysed, "confirm_overwrite", lambda path: True)  # (no modal question in a test)
    analysed.export_screenshot()  # the next export starts in the folder chosen last
    assert starts[1].startswith(str(tmp_path / "chosen"))


def test_heatmap_nifti_is_on_the_input_grid_and_affine_and_says_unmasked(qtbot, analysed, las_file, tmp_path):
    path = analysed.export_heatmap(tmp_path / "hm.nii.gz")
    written, source = nib.load(str(path)), nib.load(str(las_file))
    assert written.shape == source.shape
    assert np.allclose(written.affine, source.affine)
    data = np.asarray(written.dataobj)
    # the ramp runs along RAS X; the file is stored L-R flipped, so on disk it runs the other way
    assert data[0, 5, 5] == pytest.approx(1.0) and data[-1, 5, 5] == pytest.approx(0.0)
    assert data[0, 0, 0] == pytest.approx(1.0)  # unmasked: the background keeps its value
    assert b"NOT masked" in written.header["descrip"].tobytes()


def test_pdf_report_is_written_in_the_background(qtbot, analysed, tmp_path):
    analysed.record_impression("unsure")  # never contradicts the AI call (no question asked)
    analysed.record_decision("accept")
    with qtbot.waitSignal(analysed.export_written, timeout=WAIT_MS) as written:
        analysed.export_report(tmp_path / "report.pdf")
    raw = (tmp_path / "report.pdf").read_bytes()
    assert written.args == [str(tmp_path / "report.pdf")]
    assert raw.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b(?!s)", raw)) == 3  # summary, facts, planes
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(tmp_path / "report.pdf"), "-"], capture_output=True, text=True).stdout
        for needle in ("81.0 %", "Dr Test", "accept", "baby.nii.gz", "heatmap maximum", "Research use only"):
            assert needle in text, needle


def test_exports_need_a_shown_result(qtbot, window, tmp_path):
    from tests.viewer.helpers import head_scan

    window.state.set_scan(head_scan())
    assert window.export_heatmap(tmp_path / "x.nii.gz") is None and window.export_report(tmp_path / "x.pdf") is None
    assert not (tmp_path / "x.nii.gz").exists() and "analyse" in window.last_error.lower()


# -- settings ----------------------------------------------------------------------------------------
def test_recent_files_are_deduplicated_and_capped(settings, tmp_path):
    for i in range(12):
        settings.add_recent_file(tmp_path / f"s{i}.nii.gz")
    settings.add_recent_file(tmp_path / "s5.nii.gz")
    files = settings.recent_files()
    assert len(files) == MAX_RECENT and files[0] == str(tmp_path / "s5.nii.gz")
    assert len(set(files)) == len(files) and str(tmp_path / "s0.nii.gz") not in files


def test_settings_round_trip_between_windows(qtbot, make_window, las_file, private_settings):
    first = make_window(size=(1100, 650))
    open_and_wait(qtbot, first, las_file)
    st = first.state
    first.radiological_action.trigger()
    st.set_overlay_colormap("cividis")
    st.set_overlay_threshold(0.3)
    st.set_overlay_opacity(0.7)
    st.set_overlay_contours(True)
    first.layout_actions["2x2"].trigger()
    first.reader_first_action.trigger()
    first.settings.reader_name = "Dr Round Trip"
    geometry = first.saveGeometry()
    first.close()
    assert (private_settings / "config").rglob("*.ini")  # written under the test's folder only

    second = make_window(size=(300, 300))
    second.restore_settings()  # as at start-up (the fixture resized it after construction)
    st2 = second.state
    assert st2.radiological is False and second.convention_status.text() == "<b>Neurological</b>"
    assert (st2.overlay_colormap, st2.overlay_threshold, st2.overlay_opacity, st2.overlay_contours) == (
        "cividis",
        pytest.approx(0.3),
        pytest.approx(0.7),
        True,
    )
    assert second.panel.colormap_combo.currentText() == "cividis"
    assert st2.layout == "2x2" and second.ortho.info.isVisible()
    assert st2.reader_first and second.reader_first_action.isChecked()
    assert second.settings.reader_name == "Dr Round Trip"
    assert second.settings.window_geometry() == geometry
    assert second.height() == 650 and second.width() > 300  # restored (the offscreen screen may clamp the width)
    assert Settings().recent_files() == [str(las_file)]
    assert second.settings.last_open_folder == str(las_file.parent)
    recent = [a for a in second.recent_menu.actions() if a.data() == str(las_file)]
    assert recent
    with qtbot.waitSignal(second.scan_loaded, timeout=WAIT_MS):
        recent[0].trigger()  # File > Open recent opens it


def test_tests_do_not_touch_the_real_settings(settings, private_settings):
    assert str(private_settings) in settings.q.fileName()


# -- keyboard shortcuts dialog ---------------------------------------------------------------------------
def _all_menu_actions(window):
    from viewer.panels.shortcuts import menu_actions

    return [a for _, a in menu_actions(window.menuBar())]


def test_shortcuts_dialog_lists_every_menu_shortcut_including_later_menus(qtbot, window):
    later_menu = QMenu("&Later", window)  # e.g. the Batch menu, installed after the window was built
    window.menuBar().insertMenu(window.help_menu.menuAction(), later_menu)
    later = QAction("Later command", window)
    later.setShortcut(QKeySequence("Ctrl+Shift+K"))
    later_menu.addAction(later)
    dialog = window.show_shortcuts()
    assert dialog.isVisible()
    rows = {(r[1], r[2]) for r in dialog.rows}
    from viewer.panels.shortcuts import _clean

    for action in _all_menu_actions(window):
        if not action.shortcut().isEmpty():
            keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
            assert (_clean(action.text()), keys) in rows
    assert ("Later command", "Ctrl+Shift+K") in rows
    table_text = {
        dialog.table.item(r, c).text()
        for r in range(dialog.table.rowCount())
        for c in range(3)
        if dialog.table.item(r, c)
    }
    assert "Ctrl+Shift+S" in table_text and "Middle drag" in table_text and "Go to heatmap maximum" in table_text


def test_no_two_actions_share_a_shortcut_and_the_main_features_have_one(window):
    try:
        from viewer.batch.dialog import install_batch_menu

        install_batch_menu(window)
    except ImportError:
        pass
    seen = {}
    for action in _all_menu_actions(window):
        for key in action.shortcuts():
            text = key.toString()
            assert text not in seen, f"{text} is used by {seen[text]!r} and {action.text()!r}"
            seen[text] = action.text()
    for action in (
        window.open_action,
        window.analyse_action,
        window.screenshot_action,
        window.report_action,
        window.goto_peak_action,
        window.zoom_in_action,
        window.reset_view_action,
        window.invert_action,
        window.copy_location_action,
        window.verify_audit_action,
        window.load_weights_action,
        *window.layout_actions.values(),
        *window.impression_actions.values(),
        *window.decision_actions.values(),
    ):
        assert not action.shortcut().isEmpty(), action.text()


# -- desktop entry and icon ------------------------------------------------------------------------------
def test_desktop_entry_has_absolute_paths_and_installs(tmp_path):
    from viewer.services.desktop_entry import ICON_PNG, MAIN_PY, install, quote_exec_arg, render_entry, uninstall

    text = render_entry(python="/opt/my env/bin/python")
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert exec_line == f'Exec="/opt/my env/bin/python" {MAIN_PY} %f'
    assert f"Icon={ICON_PNG}" in text and ICON_PNG.is_file() and ICON_PNG.read_bytes()[:4] == b"\x89PNG"
    assert quote_exec_arg("50%") == "50%%" and quote_exec_arg('a"b c') == '"a\\\\"b c"'
    path = install(tmp_path / "applications", python="/usr/bin/python3")
    assert path.name == "gloresnet.desktop" and "Exec=/usr/bin/python3 " in path.read_text()
    if shutil.which("desktop-file-validate"):
        proc = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert uninstall(tmp_path / "applications") and not path.exists()
