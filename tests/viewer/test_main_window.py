"""The main window end to end: Analyse through the GUI, cancel, bad input, sample, drag-and-drop, start-up."""

import importlib.util
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl
from PyQt6.QtGui import QDropEvent

from tests.conftest import ROOT
from tests.viewer.helpers import WAIT_MS, make_result, open_and_wait
from viewer.panels.result_panel import CANCELLED_TEXT, DEMONSTRATION_TEXT, HEATMAP_CAPTION, format_probability


def _error_boxes(window):
    from PyQt6.QtWidgets import QMessageBox

    return [b for b in window.findChildren(QMessageBox) if b.objectName() == "ErrorBox"]


def test_analyse_button_shows_probability_heatmap_and_intended_use(qtbot, window, t2_scan):
    """REQUIRED: the real neonatal template (the built-in sample without ../shared), Analyse clicked, result shown."""
    open_and_wait(qtbot, window, t2_scan)
    assert window.analyse_action.isEnabled() and not window.cancel_action.isEnabled()
    qtbot.mouseClick(window.analyse_button, Qt.MouseButton.LeftButton)
    assert window.busy and window.cancel_action.isEnabled()
    qtbot.waitUntil(lambda: window.state.result is not None, timeout=WAIT_MS)

    result = window.state.result
    panel = window.panel
    text = panel.probability_label.text()
    assert "%" in text and text == format_probability(result.probability)
    assert text == f"{100 * result.probability:.1f} %"
    assert panel.probability_label.isVisible()
    assert panel.details["identity"].text() == format_probability(result.pass_probabilities[0])
    assert panel.details["weights"].text() == result.weights_sha256[:12]
    assert result.flag.capitalize() in panel.flag_label.text()
    assert panel.intended_use_label.isVisible()
    assert panel.intended_use_label.text() == window.state.result_card.intended_use != ""
    assert panel.demo_banner.isVisible() and panel.demo_banner.text() == DEMONSTRATION_TEXT  # card says demo
    assert panel.heatmap_caption.text() == HEATMAP_CAPTION and panel.heatmap_caption.isVisible()
    for view in window.ortho.views.values():
        overlay = view.overlay_item
        assert overlay.isVisible() and overlay.image is not None and overlay.image.size > 0
        assert overlay.image.shape == view.image_item.image.shape
        assert float(overlay.image.max()) > 0
    assert result.heatmap.shape == window.state.volume.shape
    qtbot.waitUntil(lambda: not window.busy)
    assert window.analyse_action.isEnabled() and not window.cancel_action.isEnabled()
    assert not panel.progress_box.isVisible()
    assert "Device:" in window.device_label.text()

    # a result belongs to one volume: opening another clears it
    open_and_wait(qtbot, window, t2_scan)
    assert window.state.result is None and not panel.result_box.isVisible()
    assert not window.ortho.views["axial"].overlay_item.isVisible()


def test_progress_is_shown_while_analysing(qtbot, window, t2_scan):
    open_and_wait(qtbot, window, t2_scan)
    messages = []
    worker = window.start_analysis()
    worker.progressed.connect(lambda f, m: messages.append(m))
    assert window.panel.progress_box.isVisible()
    with qtbot.waitSignal(window.analysis_finished, timeout=WAIT_MS):
        pass
    assert any("Grad-CAM" in m for m in messages)
    assert window.start_analysis() is not None  # weights are cached: a second analysis starts
    qtbot.waitSignal(window.analysis_finished, timeout=WAIT_MS).wait()


def test_cancel_returns_to_idle_and_says_cancelled(qtbot, window, t2_scan):
    open_and_wait(qtbot, window, t2_scan)
    with qtbot.waitSignal(window.analysis_stopped, timeout=WAIT_MS) as stopped:
        qtbot.mouseClick(window.analyse_button, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    assert stopped.args == ["cancelled"]
    assert window.panel.message_label.text() == CANCELLED_TEXT and window.panel.message_label.isVisible()
    assert window.state.result is None and not window.busy
    assert window.analyse_action.isEnabled() and not window.cancel_action.isEnabled()
    assert not window.panel.progress_box.isVisible()
    assert window.state.volume is not None  # still showing the scan
    with qtbot.waitSignal(window.analysis_finished, timeout=WAIT_MS):  # and it can analyse again
        window.start_analysis()


def _truncated(src, dst):
    raw = src.read_bytes()
    dst.write_bytes(raw[: len(raw) // 2])
    return dst


def _text_file(src, dst):
    dst.write_text("this is not a NIfTI file\n")
    return dst


@pytest.mark.parametrize("make_bad", [_truncated, _text_file], ids=["truncated", "text"])
def test_bad_file_shows_one_line_and_keeps_the_previous_scan(qtbot, window, t2_scan, tmp_path, make_bad):
    previous = open_and_wait(qtbot, window, t2_scan)
    bad = make_bad(t2_scan, tmp_path / "bad.nii.gz")
    with qtbot.waitSignal(window.scan_failed, timeout=WAIT_MS) as failed:
        window.open_path(bad)
    message = failed.args[0]
    assert "bad.nii.gz" in message and "\n" not in message and "Traceback" not in message
    assert window.last_error == message
    boxes = _error_boxes(window)
    assert boxes and boxes[-1].text() == message and boxes[-1].isVisible()
    assert window.state.scan is previous
    assert window.ortho.views["axial"].displayed_image() is not None


def test_missing_weights_folder_says_no_weights_found(qtbot, make_window, t2_scan, tmp_path):
    window = make_window(weights_dir=tmp_path / "nowhere")
    open_and_wait(qtbot, window, t2_scan)
    with qtbot.waitSignal(window.analysis_stopped, timeout=WAIT_MS) as stopped:
        window.analyse_action.trigger()
    assert stopped.args == ["failed"]
    assert window.last_error.startswith(f"No weights found at {tmp_path / 'nowhere'}")
    assert "No weights found" in window.panel.message_label.text()
    assert not window.busy


def test_tampered_weights_show_the_checkpoint_error(qtbot, make_window, t2_scan, random_weights, tmp_path):
    folder = tmp_path / "tampered"
    shutil.copytree(random_weights, folder)
    weights = folder / "model.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[-1] ^= 0xFF
    weights.write_bytes(bytes(raw))
    window = make_window(weights_dir=folder)
    open_and_wait(qtbot, window, t2_scan)
    with qtbot.waitSignal(window.analysis_stopped, timeout=WAIT_MS):
        window.start_analysis()
    assert "SHA-256" in window.last_error and "\n" not in window.last_error


def test_open_sample(qtbot, window):
    available = importlib.util.find_spec("model.simulation.phantom") is not None
    if available:
        with qtbot.waitSignal(window.scan_loaded, timeout=WAIT_MS):
            window.sample_action.trigger()
        assert window.state.scan.name.startswith("Simulated sample")
        assert window.state.volume.data.ndim == 3
        assert "Simulated sample" in window.windowTitle()
    else:
        with qtbot.waitSignal(window.scan_failed, timeout=WAIT_MS):
            window.sample_action.trigger()
        assert "sample is not available" in window.last_error


def test_file_open_action_opens_the_chosen_file(qtbot, window, t2_scan, monkeypatch):
    from PyQt6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(t2_scan), ""))
    with qtbot.waitSignal(window.scan_loaded, timeout=WAIT_MS):
        window.open_action.trigger()
    assert window.state.volume.path == t2_scan and t2_scan.name.split(".")[0] in window.windowTitle()


def test_dropping_a_file_opens_it(qtbot, window, t2_scan):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(t2_scan))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    with qtbot.waitSignal(window.scan_loaded, timeout=WAIT_MS):
        window.dropEvent(event)
    assert window.state.volume.path == t2_scan


def test_result_panel_without_demonstration_has_no_banner(qtbot, window):
    from tests.viewer.helpers import asymmetric_scan

    scan = asymmetric_scan()
    window.state.set_scan(scan)
    card = type("Card", (), {"intended_use": "Research use only."})()
    window.state.set_result(make_result(scan.volume, np.zeros(scan.volume.shape, np.float32), 0.234), card)
    assert window.panel.probability_label.text() == "23.4 %"
    assert not window.panel.demo_banner.isVisible()
    assert (
        window.panel.intended_use_label.text() == "Research use only." and window.panel.intended_use_label.isVisible()
    )
    assert "Below threshold" in window.panel.flag_label.text()


def test_build_opens_the_file_given_on_the_command_line(qtbot, t2_scan, random_weights):
    from viewer.app import build

    app, window = build(["main.py", str(t2_scan), "--weights", str(random_weights)])
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.state.scan is not None, timeout=WAIT_MS)
    assert window.state.volume.path == t2_scan
    assert window.weights_dir == random_weights


def test_main_py_runs_from_another_directory(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "--weights" in proc.stdout


def _protocol_members(protocol) -> set[str]:
    """Names a ``typing.Protocol`` declares (annotations, methods, properties), its bases' included."""
    names: set[str] = set()
    for cls in protocol.__mro__:
        if cls.__module__ in ("typing", "builtins"):
            continue
        names |= set(vars(cls).get("__annotations__", {}))
        names |= {n for n, v in vars(cls).items() if not n.startswith("_") and (callable(v) or isinstance(v, property))}
        names |= {n for n, v in vars(cls).items() if n.isupper() and isinstance(v, str)}
    return names


def test_the_window_has_every_member_the_protocols_of_its_parts_name(qtbot, window):
    """Controllers, the batch dialog and the side tabs get the window as small Protocols, not as
    MainWindow (issue 31); nothing type-checks the viewer, so this keeps each Protocol true: every
    member it names exists on the object the part is really given."""
    from viewer.batch.dialog import open_batch_dialog
    from viewer.batch.host import BatchHost
    from viewer.batch.layout import LayoutHost
    from viewer.controllers.actions_host import ActionsHost
    from viewer.controllers.analysis import AnalysisHost
    from viewer.controllers.exports import ExportsHost
    from viewer.controllers.host import WindowHost
    from viewer.controllers.reader import ReaderHost
    from viewer.controllers.reading_room import ReadingRoomHost
    from viewer.controllers.scan_opener import ScanOpenerHost
    from viewer.panels.findings_panel import RoomHost

    dialog = open_batch_dialog(window)
    given = [
        (WindowHost, window),
        (AnalysisHost, window),
        (ScanOpenerHost, window),
        (ReaderHost, window),
        (ExportsHost, window),
        (ReadingRoomHost, window),
        (ActionsHost, window),
        (BatchHost, window),
        (LayoutHost, dialog),
        (RoomHost, window.reading),
    ]
    missing = {p.__name__: sorted(n for n in _protocol_members(p) if not hasattr(obj, n)) for p, obj in given}
    assert {k: v for k, v in missing.items() if v} == {}
    assert len(_protocol_members(ActionsHost)) > 90  # the helper really reads the Protocols
    dialog.close()
