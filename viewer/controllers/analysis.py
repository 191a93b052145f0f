"""Analyse and Cancel: one analysis of the shown scan at a time, in a worker thread.

A controller of the main window (``window.analysis``). It runs :func:`viewer.services.jobs.analysis_job_steps`
with the model of :class:`viewer.services.model_provider.ModelProvider`, shows progress in the result panel
and puts the result into the window's :class:`viewer.state.ViewerState` -- unless another scan was
opened meanwhile, in which case the result is dropped (a result belongs to one volume).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from viewer.controllers.host import WindowHost
from viewer.panels.result_panel import CANCELLED_TEXT
from viewer.services.jobs import AnalysisOutcome, analysis_job_steps
from viewer.services.worker import GeneratorWorker

if TYPE_CHECKING:
    from PyQt6.QtCore import pyqtBoundSignal
    from PyQt6.QtGui import QAction

    from viewer.panels.result_panel import ResultPanel
    from viewer.services.model_provider import ModelProvider


class AnalysisHost(WindowHost, Protocol):
    """What the analysis controller needs of the window, beyond :class:`WindowHost`.

    The model (``models``), the result panel that shows progress (``panel``), the Cancel action,
    the ``analysis_finished`` / ``analysis_stopped`` signals it emits, and ``set_busy``.
    """

    models: ModelProvider
    panel: ResultPanel
    cancel_action: QAction
    analysis_finished: pyqtBoundSignal
    analysis_stopped: pyqtBoundSignal

    def set_busy(self, busy: bool) -> None: ...


class AnalysisController:
    """Starts, cancels and finishes analyses for one window."""

    def __init__(self, window: AnalysisHost):
        self.w = window
        self._analysis_worker: GeneratorWorker | None = None

    @property
    def worker(self) -> GeneratorWorker | None:
        """The running analysis, if any."""
        return self._analysis_worker

    @property
    def busy(self) -> bool:
        """True while an analysis runs (until its thread reported the end)."""
        return self._analysis_worker is not None

    def start_analysis(self) -> GeneratorWorker | None:
        """Analyse the shown scan in the background (does nothing while one runs)."""
        if self._analysis_worker is not None:
            return None
        volume = self.w.state.volume
        if volume is None:
            self.w.show_error("Nothing to analyse", "Open a scan first (File > Open, Ctrl+O).")
            return None
        loaded = self.w.models.cached()
        weights_dir, device = self.w.models.weights_dir, self.w.models.device
        worker = GeneratorWorker(lambda: analysis_job_steps(volume, weights_dir, device, loaded), name="analysis")
        worker.volume = volume
        worker.progressed.connect(self.w.panel.show_progress)
        worker.returned.connect(lambda outcome: self._on_analysis_returned(worker, outcome))
        worker.failed.connect(lambda msg: self._on_analysis_failed(worker, msg))
        worker.cancelled.connect(lambda: self._on_analysis_cancelled(worker))
        self._analysis_worker = worker
        self.w.state.clear_result()
        self.w.panel.show_message("Analysing…")
        self.w.panel.show_progress(0.0, "Starting")
        self.w.set_busy(True)
        self.w.jobs.launch(worker)
        return worker

    def cancel_analysis(self) -> None:
        """Ask the running analysis to stop; the panel says so once it has."""
        worker = self._analysis_worker
        if worker is None or worker.cancel_requested:
            return
        worker.cancel()
        self.w.cancel_action.setEnabled(False)
        self.w.panel.show_progress(self.w.panel.progress_bar.value() / 100.0, "Cancelling…")

    def _on_analysis_returned(self, worker: GeneratorWorker, outcome: AnalysisOutcome) -> None:
        self._end_analysis(worker)
        self.w.models.adopt(outcome.loaded)
        if outcome.volume is not self.w.state.volume:
            return  # another scan was opened meanwhile
        self.w.state.set_result(outcome.result, outcome.loaded.card)
        self.w.statusBar().showMessage(
            f"Analysis done in {outcome.result.timings_s.get('total', float('nan')):.1f} s on {outcome.result.device}",
            5000,
        )
        self.w.analysis_finished.emit(outcome.result)

    def _on_analysis_failed(self, worker: GeneratorWorker, message: str) -> None:
        self._end_analysis(worker)
        self.w.panel.show_message(f"Analysis failed: {message}")
        self.w.show_error("Analysis failed", message)
        self.w.analysis_stopped.emit("failed")

    def _on_analysis_cancelled(self, worker: GeneratorWorker) -> None:
        self._end_analysis(worker)
        if worker.volume is self.w.state.volume:
            self.w.panel.show_message(CANCELLED_TEXT)
            self.w.statusBar().showMessage(CANCELLED_TEXT, 5000)
        self.w.analysis_stopped.emit("cancelled")

    def _end_analysis(self, worker: GeneratorWorker) -> None:
        if worker is self._analysis_worker:
            self._analysis_worker = None
        self.w.panel.hide_progress()
        self.w.set_busy(False)
