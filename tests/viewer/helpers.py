"""Viewer test helpers: tiny asymmetric scans, real mouse and wheel events, waiting for a scan."""

from __future__ import annotations

import json

import numpy as np
from PyQt6.QtCore import QEvent, QPoint, QPointF, Qt
from PyQt6.QtGui import QMouseEvent, QWheelEvent
from PyQt6.QtWidgets import QApplication

from model.volume import volume_from_array
from viewer.display import Scan, default_window

WAIT_MS = 60_000


def open_and_wait(qtbot, window, path):
    """Open ``path`` in ``window`` and wait until it is shown."""
    with qtbot.waitSignal(window.scan_loaded, timeout=WAIT_MS):
        window.open_path(path)
    return window.state.scan


def asymmetric_scan(shape=(12, 16, 10), spacing_mm=(1.0, 1.0, 1.0), seed=0) -> Scan:
    """A tiny seeded RAS+ scan with a bright block towards patient Right, Anterior, Superior.

    Every axis is asymmetric, so a flip or a transpose of the display changes what is seen.
    """
    rng = np.random.default_rng(seed)
    data = rng.uniform(10, 20, size=shape).astype(np.float32)
    x, y, z = shape
    data[x - x // 3 :, y - y // 3 :, z - z // 3 :] = 100.0  # R, A, S corner
    data[: x // 4, : y // 4, : z // 4] = 50.0  # L, P, I corner, dimmer
    affine = np.diag([*spacing_mm, 1.0])
    volume = volume_from_array(data, affine)
    return Scan(volume=volume, name="asymmetric", default_window=default_window(volume.data))


def send_mouse(widget, kind, pos, button, buttons):
    """Send one real QMouseEvent (press/move/release) to ``widget`` at local ``pos``."""
    local = QPointF(pos)
    glob = QPointF(widget.mapToGlobal(QPoint(int(pos.x()), int(pos.y()))))
    ev = QMouseEvent(kind, local, glob, button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def right_drag(widget, start, delta, steps=5):
    """Right-button drag from ``start`` by ``delta`` (QPointF, pixels) on ``widget``."""
    R, none = Qt.MouseButton.RightButton, Qt.MouseButton.NoButton
    send_mouse(widget, QEvent.Type.MouseButtonPress, start, R, R)
    for s in range(1, steps + 1):
        send_mouse(widget, QEvent.Type.MouseMove, start + delta * (s / steps), none, R)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, start + delta, R, none)


def wheel(widget, pos, notches=1):
    """Turn the mouse wheel ``notches`` (positive = away from the user) over ``widget`` at ``pos``."""
    glob = QPointF(widget.mapToGlobal(QPoint(int(pos.x()), int(pos.y()))))
    ev = QWheelEvent(
        QPointF(pos),
        glob,
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, ev)


def make_result(volume, heatmap=None, probability=0.7, demonstration=False):
    """A real ``AnalysisResult`` for ``volume`` without running the network."""
    from model.inference import AnalysisResult

    return AnalysisResult(
        probability=probability,
        pass_probabilities=(probability - 0.05, probability + 0.05),
        heatmap=heatmap,
        affine=volume.affine.copy(),
        decision_threshold=0.5,
        indeterminate_band=0.1,
        model_name="fake",
        model_version="1.0",
        weights_sha256="ab" * 32,
        demonstration=demonstration,
        device="cpu",
        timings_s={"total": 0.1},
    )


def head_scan(shape=(24, 28, 20), seed=0, spacing_mm=(1.0, 1.0, 1.0)):
    """A small seeded scan with a zero background around an asymmetric 'head', prepared as the app
    prepares a file (:func:`viewer.display.make_scan`: head mask, window presets, quality warnings)."""
    from viewer.display import make_scan

    rng = np.random.default_rng(seed)
    data = np.zeros(shape, np.float32)
    x, y, z = shape
    data[2:-2, 2:-2, 2:-2] = rng.uniform(10, 20, size=(x - 4, y - 4, z - 4))
    data[x - x // 3 : -2, y - y // 3 : -2, z - z // 3 : -2] = 100.0  # R, A, S corner of the head
    volume = volume_from_array(data, np.diag([*spacing_mm, 1.0]))
    return make_scan(volume, "head")


def save_nifti(path, data, affine, qform_affine=None):
    """Write ``data`` as NIfTI at ``path`` (sform = ``affine``; a different qform when given)."""
    import nibabel as nib

    img = nib.Nifti1Image(np.asarray(data, np.float32), affine)
    img.set_sform(affine, code=1)
    img.set_qform(affine if qform_affine is None else qform_affine, code=1)
    nib.save(img, str(path))
    return path


def show_result(window, p=0.7):
    """Put a result with P(injury) ``p`` and a ramp heatmap on the window's scan (no network run)."""
    volume = window.state.volume
    heatmap = np.linspace(0, 1, volume.data.size, dtype=np.float32).reshape(volume.shape)
    window.state.set_result(make_result(volume, heatmap, probability=p), card=None)


def audit_entries(window) -> list[dict]:
    """The window's audit log, one dict per line."""
    return [json.loads(line) for line in window.audit_path.read_text(encoding="utf-8").splitlines()]
