"""The main window: actions, menus, toolbar, status bar, and the jobs that open and analyse scans.

The window owns one :class:`ViewerState` (what is shown), the views that draw it
(:class:`OrthoView`, :class:`ResultPanel`, the status bar) and the actions that change it. Opening
a scan and analysing it run as generators from :mod:`viewer.jobs` in a
:class:`viewer.worker.GeneratorWorker`, so the GUI thread only receives finished objects and
slices arrays. Errors reach the reader as one line (a non-blocking message box plus the status
bar); tracebacks go to the log.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QStyle,
    QToolBar,
)

import model
from model.inference import select_device
from model.volume import is_nifti_path
from viewer.display import INDEX_NAMES
from viewer.jobs import AnalysisOutcome, analysis_job_steps, open_sample_steps, open_scan_steps
from viewer.ortho_view import OrthoView
from viewer.result_panel import CANCELLED_TEXT, IDLE_TEXT, ResultPanel
from viewer.slice_view import heatmap_lut
from viewer.state import ViewerState
from viewer.worker import GeneratorWorker

log = logging.getLogger(__name__)

APP_TITLE = "GloResNet second reader"
NIFTI_FILTER = "NIfTI volumes (*.nii *.nii.gz);;All files (*)"
#: How long closing the window waits for a running job to stop, ms.
CLOSE_WAIT_MS = 30_000


class MainWindow(QMainWindow):
    """The second reader's window.

    Parameters
    ----------
    weights_dir : str or Path, optional
        Weights folder used by Analyse (default :data:`model.DEFAULT_WEIGHTS_DIR`).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"`` (:func:`model.inference.select_device`).

    Signals
    -------
    scan_loaded(object)
        A scan was opened and is shown (:class:`viewer.display.Scan`).
    scan_failed(str)
        Opening failed; the one-line reason (the previous scan stays).
    analysis_finished(object)
        ``AnalysisResult`` now shown.
    analysis_stopped(str)
        ``"cancelled"`` or ``"failed"``.
    busy_changed(bool)
        An analysis started (True) or ended (False).
    """

    scan_loaded = pyqtSignal(object)
    scan_failed = pyqtSignal(str)
    analysis_finished = pyqtSignal(object)
    analysis_stopped = pyqtSignal(str)
    busy_changed = pyqtSignal(bool)

    def __init__(self, weights_dir: str | Path | None = None, device: str = "auto", parent=None):
        super().__init__(parent)
        self.weights_dir = Path(weights_dir) if weights_dir is not None else model.DEFAULT_WEIGHTS_DIR
        self.device = select_device(device)
        self.state = ViewerState(self)
        self.last_error: str | None = None
        self._loaded_model = None  # LoadedModel reused between analyses (same folder and device)
        self._load_worker: GeneratorWorker | None = None
        self._analysis_worker: GeneratorWorker | None = None
        self._workers: set = set()  # kept alive until their thread has finished

        self.setWindowTitle(APP_TITLE)
        self.setAcceptDrops(True)
        self.ortho = OrthoView(self.state)
        self.panel = ResultPanel(self.state)
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(300)
        scroll.setMaximumWidth(420)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.ortho)
        self.splitter.addWidget(scroll)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([1100, 360])
        self.setCentralWidget(self.splitter)

        self._make_actions()
        self._make_menus_and_toolbar()
        self._make_status_bar()
        self.panel.set_actions(self.analyse_action, self.cancel_action)
        self.panel.set_heatmap_lut(heatmap_lut())

        self.state.scan_changed.connect(self._on_scan_changed)
        self.state.cursor_changed.connect(self._update_readout)
        self.state.window_changed.connect(self._update_readout)
        self.state.radiological_changed.connect(self._on_radiological_changed)
        self.state.overlay_changed.connect(self._on_overlay_changed)
        self.state.result_changed.connect(self._on_result_changed)
        self._on_radiological_changed(self.state.radiological)
        self._on_overlay_changed()
        self._set_busy(False)

    # -- construction --------------------------------------------------------------------------
    def _make_actions(self) -> None:
        icon = self.style().standardIcon
        SP = QStyle.StandardPixmap

        def action(text, slot=None, shortcut=None, tip=None, pixmap=None, checkable=False):
            a = QAction(text, self)
            if pixmap is not None:
                a.setIcon(icon(pixmap))
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            a.setCheckable(checkable)
            tip = tip or text.replace("&", "").rstrip(".…")
            if shortcut:
                tip += f" ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
            a.setToolTip(tip)
            a.setStatusTip(tip)
            if slot is not None:
                (a.toggled if checkable else a.triggered).connect(slot)
            return a

        self.open_action = action("&Open…", lambda: self.open_dialog(), QKeySequence.StandardKey.Open,
                                  "Open a T2 NIfTI volume", SP.SP_DialogOpenButton)
        self.sample_action = action("Open &sample", lambda: self.open_sample(), "Ctrl+Shift+O",
                                    "Open the simulated neonatal T2 sample", SP.SP_FileIcon)
        self.quit_action = action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.analyse_action = action("&Analyse", lambda: self.start_analysis(), "Ctrl+R",
                                     "Estimate P(injury) and the Grad-CAM heatmap for this scan", SP.SP_MediaPlay)
        self.cancel_action = action("&Cancel", lambda: self.cancel_analysis(), "Esc",
                                    "Stop the running analysis", SP.SP_MediaStop)
        self.radiological_action = action("&Radiological convention", self.state.set_radiological, "Ctrl+Shift+R",
                                          "Radiological: patient left on screen right (off: neurological)",
                                          checkable=True)
        self.radiological_action.setChecked(self.state.radiological)
        self.overlay_action = action("Show &heatmap", self.state.set_overlay_visible, "H",
                                     "Show the Grad-CAM heatmap over the scan", checkable=True)
        self.reset_window_action = action("Reset &window/level", self.state.reset_window, "Ctrl+Shift+L",
                                          "Back to the automatic window (1st-99th percentile)")
        self.about_action = action("&About", self._about)

    def _make_menus_and_toolbar(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.open_action, self.sample_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = bar.addMenu("&View")
        view_menu.addActions([self.radiological_action, self.overlay_action])
        view_menu.addSeparator()
        view_menu.addAction(self.reset_window_action)
        analysis_menu = bar.addMenu("&Analysis")
        analysis_menu.addActions([self.analyse_action, self.cancel_action])
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

        self.toolbar = QToolBar("Main")
        self.toolbar.setObjectName("MainToolBar")
        self.toolbar.setMovable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toolbar.addActions([self.open_action, self.sample_action])
        self.toolbar.addSeparator()
        self.toolbar.addActions([self.analyse_action, self.cancel_action])
        self.toolbar.addSeparator()
        self.toolbar.addActions([self.radiological_action, self.overlay_action, self.reset_window_action])
        self.addToolBar(self.toolbar)

    def _make_status_bar(self) -> None:
        sb = self.statusBar()
        self.readout_label = QLabel()
        self.readout_label.setMinimumWidth(360)
        self.window_label = QLabel()
        self.window_label.setMinimumWidth(130)
        self.convention_status = QLabel()
        self.convention_status.setObjectName("ConventionStatus")
        self.device_label = QLabel(f"Device: {self.device}")
        for w in (self.readout_label, self.window_label, self.convention_status, self.device_label):
            sb.addPermanentWidget(w)

    @property
    def analyse_button(self):
        """The toolbar button of the Analyse action."""
        return self.toolbar.widgetForAction(self.analyse_action)

    @property
    def cancel_button(self):
        """The toolbar button of the Cancel action."""
        return self.toolbar.widgetForAction(self.cancel_action)

    # -- opening scans ---------------------------------------------------------------------------
    def open_dialog(self) -> None:
        start = str(self.state.volume.path.parent) if self.state.volume is not None and self.state.volume.path else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open a T2 NIfTI volume", start, NIFTI_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> GeneratorWorker:
        """Open a NIfTI file in the background; ``scan_loaded`` or ``scan_failed`` follows."""
        path = Path(path)
        return self._start_load(lambda: open_scan_steps(path), f"open {path.name}")

    def open_sample(self) -> GeneratorWorker:
        """Open the simulated sample (``model.synthetic.sample_image``) in the background."""
        return self._start_load(open_sample_steps, "open sample")

    def _start_load(self, make_generator, name: str) -> GeneratorWorker:
        if self._load_worker is not None:
            self._load_worker.cancel()  # the newer request wins
        worker = GeneratorWorker(make_generator, name=name)
        worker.progressed.connect(lambda f, m: self.statusBar().showMessage(m))
        worker.returned.connect(lambda scan: self._on_scan_loaded(worker, scan))
        worker.failed.connect(lambda msg: self._on_scan_failed(worker, msg))
        worker.cancelled.connect(lambda: self.statusBar().clearMessage())
        self._load_worker = worker
        self._launch(worker)
        return worker

    def _on_scan_loaded(self, worker: GeneratorWorker, scan) -> None:
        if worker is not self._load_worker:
            return
        self._load_worker = None
        if self._analysis_worker is not None:
            self._analysis_worker.cancel()  # its result would belong to the previous scan
        self.state.set_scan(scan)
        self.statusBar().showMessage(f"Opened {scan.name}", 5000)
        self.scan_loaded.emit(scan)

    def _on_scan_failed(self, worker: GeneratorWorker, message: str) -> None:
        if worker is not self._load_worker:
            return
        self._load_worker = None
        self.show_error("Cannot open scan", message)
        self.scan_failed.emit(message)

    # -- drag and drop ---------------------------------------------------------------------------
    def dragEnterEvent(self, ev):  # noqa: N802 - Qt hook
        if _dropped_files(ev.mimeData()):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dragMoveEvent(self, ev):  # noqa: N802 - Qt hook
        self.dragEnterEvent(ev)

    def dropEvent(self, ev):  # noqa: N802 - Qt hook
        files = _dropped_files(ev.mimeData())
        if not files:
            ev.ignore()
            return
        ev.acceptProposedAction()
        nifti = [f for f in files if is_nifti_path(f)]
        self.open_path(nifti[0] if nifti else files[0])  # a non-NIfTI file gets load_volume's message

    # -- analysis --------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while an analysis runs (until its thread reported the end)."""
        return self._analysis_worker is not None

    def start_analysis(self) -> GeneratorWorker | None:
        """Analyse the shown scan in the background (does nothing while one runs)."""
        if self._analysis_worker is not None:
            return None
        volume = self.state.volume
        if volume is None:
            self.show_error("Nothing to analyse", "Open a scan first (File > Open, Ctrl+O).")
            return None
        loaded = self._loaded_model
        if loaded is not None and (Path(loaded.folder) != self.weights_dir):
            loaded = None
        weights_dir, device = self.weights_dir, self.device
        worker = GeneratorWorker(lambda: analysis_job_steps(volume, weights_dir, device, loaded), name="analysis")
        worker.volume = volume
        worker.progressed.connect(self.panel.show_progress)
        worker.returned.connect(lambda outcome: self._on_analysis_returned(worker, outcome))
        worker.failed.connect(lambda msg: self._on_analysis_failed(worker, msg))
        worker.cancelled.connect(lambda: self._on_analysis_cancelled(worker))
        self._analysis_worker = worker
        self.state.clear_result()
        self.panel.show_message("Analysing…")
        self.panel.show_progress(0.0, "Starting")
        self._set_busy(True)
        self._launch(worker)
        return worker

    def cancel_analysis(self) -> None:
        """Ask the running analysis to stop; the panel says so once it has."""
        worker = self._analysis_worker
        if worker is None or worker.cancel_requested:
            return
        worker.cancel()
        self.cancel_action.setEnabled(False)
        self.panel.show_progress(self.panel.progress_bar.value() / 100.0, "Cancelling…")

    def _on_analysis_returned(self, worker: GeneratorWorker, outcome: AnalysisOutcome) -> None:
        self._end_analysis(worker)
        self._loaded_model = outcome.loaded
        if outcome.volume is not self.state.volume:
            return  # another scan was opened meanwhile
        self.state.set_result(outcome.result, outcome.loaded.card)
        self.statusBar().showMessage(
            f"Analysis done in {outcome.result.timings_s.get('total', float('nan')):.1f} s on {outcome.result.device}", 5000
        )
        self.analysis_finished.emit(outcome.result)

    def _on_analysis_failed(self, worker: GeneratorWorker, message: str) -> None:
        self._end_analysis(worker)
        self.panel.show_message(f"Analysis failed: {message}")
        self.show_error("Analysis failed", message)
        self.analysis_stopped.emit("failed")

    def _on_analysis_cancelled(self, worker: GeneratorWorker) -> None:
        self._end_analysis(worker)
        if worker.volume is self.state.volume:
            self.panel.show_message(CANCELLED_TEXT)
            self.statusBar().showMessage(CANCELLED_TEXT, 5000)
        self.analysis_stopped.emit("cancelled")

    def _end_analysis(self, worker: GeneratorWorker) -> None:
        if worker is self._analysis_worker:
            self._analysis_worker = None
        self.panel.hide_progress()
        self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        has_scan = self.state.volume is not None
        self.analyse_action.setEnabled(not busy and has_scan)
        self.cancel_action.setEnabled(busy)
        self.busy_changed.emit(busy)

    # -- workers ---------------------------------------------------------------------------------
    def _launch(self, worker: GeneratorWorker) -> None:
        self._workers.add(worker)
        worker.finished.connect(lambda: (worker.wait(), self._workers.discard(worker)))
        worker.start()

    def closeEvent(self, ev):  # noqa: N802 - Qt hook
        for worker in list(self._workers):
            worker.cancel()
        for worker in list(self._workers):
            if not worker.wait(CLOSE_WAIT_MS):
                log.error("%s did not stop within %d ms", worker.objectName(), CLOSE_WAIT_MS)
        super().closeEvent(ev)

    # -- errors ----------------------------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        """Tell the reader in one line (non-blocking message box + status bar); never a traceback."""
        message = message.strip().splitlines()[0] if message.strip() else title
        self.last_error = message
        log.info("%s: %s", title, message)
        self.statusBar().showMessage(message, 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("ErrorBox")
        box.open()

    # -- state -> window -------------------------------------------------------------------------
    def _on_scan_changed(self, scan) -> None:
        self.setWindowTitle(APP_TITLE if scan is None else f"{scan.name} — {APP_TITLE}")
        if scan is not None:
            self.panel.show_message(IDLE_TEXT)
        self._set_busy(self.busy)
        self._update_readout()

    def _on_radiological_changed(self, radiological: bool) -> None:
        self.radiological_action.blockSignals(True)
        self.radiological_action.setChecked(radiological)
        self.radiological_action.blockSignals(False)
        self.convention_status.setText("<b>Radiological</b>" if radiological else "<b>Neurological</b>")

    def _on_overlay_changed(self) -> None:
        self.overlay_action.blockSignals(True)
        self.overlay_action.setChecked(self.state.overlay_visible)
        self.overlay_action.blockSignals(False)

    def _on_result_changed(self, result) -> None:
        self.overlay_action.setEnabled(result is not None and result.heatmap is not None)
        if result is not None:
            self.device_label.setText(f"Device: {result.device}")

    def _update_readout(self, *_args) -> None:
        volume = self.state.volume
        if volume is None:
            self.readout_label.clear()
            self.window_label.clear()
            return
        ijk = self.state.cursor
        value = float(volume.data[ijk])
        x, y, z = volume.world_mm(ijk) + 0.0  # + 0.0: no "-0.0" in the readout
        index = ", ".join(f"{n} {v}" for n, v in zip(INDEX_NAMES, ijk))
        self.readout_label.setText(f"{index}   ({x:.1f}, {y:.1f}, {z:.1f}) mm   value {value:.4g}")
        level, width = self.state.window
        self.window_label.setText(f"W {width:.4g}  L {level:.4g}")

    def _about(self) -> None:
        QMessageBox.about(
            self, f"About {APP_TITLE}",
            f"<b>{APP_TITLE}</b><br>A second reader for T2-weighted brain MRI of preterm infants: "
            "P(injury) from a 3D ResNet-10 with test-time augmentation, and a Grad-CAM heatmap.<br><br>"
            "Research use only; it does not diagnose and does not outline lesions.<br><br>"
            f"Weights folder: {self.weights_dir}",
        )


def _dropped_files(mime) -> list:
    if mime is None or not mime.hasUrls():
        return []
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
