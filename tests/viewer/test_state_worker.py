"""ViewerState semantics and the generator worker (progress, result, one-line errors, cancel)."""

import logging
from types import SimpleNamespace

import numpy as np
import pytest

from model.errors import ScanError
from model.inference import Progress
from tests.viewer.helpers import asymmetric_scan
from viewer.services.worker import GeneratorWorker
from viewer.state import ViewerState


def test_set_scan_centres_cursor_applies_window_and_clears_result(qtbot):
    state = ViewerState()
    first = asymmetric_scan()
    state.set_scan(first)
    state.set_result(SimpleNamespace(heatmap=np.zeros(first.volume.shape, np.float32)), card=None)
    with qtbot.waitSignals([state.result_changed, state.scan_changed], order="strict"):
        state.set_scan(asymmetric_scan(shape=(8, 9, 10)))
    assert state.result is None
    assert state.cursor == (4, 4, 5)
    assert state.window == state.scan.default_window


def test_cursor_is_clamped_and_emits_once(qtbot):
    state = ViewerState()
    state.set_scan(asymmetric_scan())
    with qtbot.waitSignal(state.cursor_changed) as blocker:
        state.set_cursor((100, -5, 3))
    assert blocker.args == [(11, 0, 3)]
    with qtbot.assertNotEmitted(state.cursor_changed):
        state.set_cursor((11, 0, 3))
        state.step_slice(0, +1)  # already at the last slice


def test_result_must_be_on_the_scan_grid():
    state = ViewerState()
    with pytest.raises(ValueError, match="no scan"):
        state.set_result(SimpleNamespace(heatmap=None), card=None)
    state.set_scan(asymmetric_scan())
    with pytest.raises(ValueError, match="does not match"):
        state.set_result(SimpleNamespace(heatmap=np.zeros((2, 2, 2), np.float32)), card=None)


def test_window_width_stays_positive():
    state = ViewerState()
    state.set_scan(asymmetric_scan())
    state.set_window(10.0, -50.0)
    assert state.window[1] > 0


def _steps(log, fail=None):
    try:
        log.append("start")
        yield Progress(0.5, "half")
        if fail is not None:
            raise fail
        yield Progress(1.0, "done")
        return 42
    finally:
        log.append("closed")


def _run(qtbot, worker):
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        worker.start()


def test_worker_reports_progress_and_value(qtbot):
    log, progress, values = [], [], []
    worker = GeneratorWorker(lambda: _steps(log))
    worker.progressed.connect(lambda f, m: progress.append((f, m)))
    worker.returned.connect(values.append)
    _run(qtbot, worker)
    qtbot.waitUntil(lambda: values == [42])
    assert progress == [(0.5, "half"), (1.0, "done")]
    assert log == ["start", "closed"]


def test_worker_turns_known_errors_into_their_message(qtbot):
    messages = []
    worker = GeneratorWorker(lambda: _steps([], fail=ScanError("/x/scan.nii.gz", "the file is truncated")))
    worker.failed.connect(messages.append)
    _run(qtbot, worker)
    qtbot.waitUntil(lambda: messages == ["/x/scan.nii.gz: the file is truncated"])


def test_worker_catches_unexpected_errors_and_logs_traceback(qtbot, caplog):
    messages = []
    worker = GeneratorWorker(lambda: _steps([], fail=KeyError("boom\nsecond line")))
    worker.failed.connect(messages.append)
    with caplog.at_level(logging.ERROR, logger="viewer.services.worker"):
        _run(qtbot, worker)
    qtbot.waitUntil(lambda: len(messages) == 1)
    assert messages[0].startswith("Unexpected error (KeyError)") and "\n" not in messages[0]
    assert any(r.exc_info for r in caplog.records)


def test_worker_cancel_closes_the_generator(qtbot):
    log, events = [], []

    def endless():
        try:
            while True:
                yield Progress(0.0, "working")
        finally:
            log.append("closed")

    worker = GeneratorWorker(endless)
    worker.cancelled.connect(lambda: events.append("cancelled"))
    worker.returned.connect(lambda v: events.append("returned"))
    with qtbot.waitSignal(worker.progressed, timeout=10_000):  # the generator is running
        worker.start()
    worker.cancel()
    qtbot.waitUntil(lambda: events == ["cancelled"], timeout=10_000)
    assert worker.wait(5000)
    assert log == ["closed"]
