"""Opening scans: File > Open, Open recent, Open sample, drag and drop, the command line.

A controller of the main window (``window.opener``). Every scan is read in a worker thread
(:func:`viewer.services.jobs.open_scan_steps`, :func:`viewer.services.jobs.open_sample_steps`); the newest request
wins, a running analysis of the previous scan is cancelled, and a bad file becomes one line for the
reader while the previous scan stays.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PyQt6.QtWidgets import QFileDialog

from viewer.controllers.host import WindowHost
from viewer.services.jobs import open_sample_steps, open_scan_steps
from viewer.services.settings import start_folder
from viewer.services.worker import GeneratorWorker

if TYPE_CHECKING:
    from PyQt6.QtCore import pyqtBoundSignal
    from PyQt6.QtGui import QAction
    from PyQt6.QtWidgets import QMenu

    from viewer.controllers.analysis import AnalysisController
    from viewer.views.ortho_view import OrthoView

NIFTI_FILTER = "NIfTI volumes (*.nii *.nii.gz);;All files (*)"


class ScanOpenerHost(WindowHost, Protocol):
    """What the scan opener needs of the window, beyond :class:`WindowHost`.

    File > Open recent (``recent_menu``, ``clear_recent_action``), the running analysis to cancel
    when another scan opens (``analysis``), the planes to focus (``ortho``) and the
    ``scan_loaded`` / ``scan_failed`` signals it emits.
    """

    recent_menu: QMenu
    clear_recent_action: QAction
    analysis: AnalysisController
    ortho: OrthoView
    scan_loaded: pyqtBoundSignal
    scan_failed: pyqtBoundSignal


class ScanOpener:
    """Opens scans for one window."""

    def __init__(self, window: ScanOpenerHost):
        self.w = window
        self._load_worker: GeneratorWorker | None = None

    def open_dialog(self) -> None:
        volume = self.w.state.volume
        here = volume.path.parent if volume is not None and volume.path else None
        start = str(start_folder(self.w.settings.last_open_folder, here))  # never the program's folder
        path, _ = QFileDialog.getOpenFileName(self.w, "Open a T2 NIfTI volume", start, NIFTI_FILTER)
        if path:
            self.open_path(path)

    def fill_recent_menu(self) -> None:
        menu = self.w.recent_menu
        menu.clear()
        files = self.w.settings.recent_files()
        for n, path in enumerate(files, start=1):
            a = menu.addAction(f"&{n % 10}  {Path(path).name}")
            a.setToolTip(path)
            a.setStatusTip(path)
            a.setData(path)
            a.triggered.connect(lambda _c=False, p=path: self.open_path(p))
        if not files:
            empty = menu.addAction("(no recent files)")
            empty.setEnabled(False)
        menu.addSeparator()
        menu.addAction(self.w.clear_recent_action)
        self.w.clear_recent_action.setEnabled(bool(files))

    def clear_recent(self) -> None:
        self.w.settings.clear_recent_files()
        self.fill_recent_menu()

    def open_path(self, path: str | Path) -> GeneratorWorker:
        """Open a NIfTI file in the background; ``scan_loaded`` or ``scan_failed`` follows."""
        path = Path(path)
        return self._start_load(lambda: open_scan_steps(path), f"open {path.name}")

    def open_sample(self) -> GeneratorWorker:
        """Open the simulated sample (``model.simulation.phantom.sample_image``) in the background."""
        return self._start_load(open_sample_steps, "open sample")

    def _start_load(self, make_generator, name: str) -> GeneratorWorker:
        if self._load_worker is not None:
            self._load_worker.cancel()  # the newer request wins
        worker = GeneratorWorker(make_generator, name=name)
        worker.progressed.connect(lambda f, m: self.w.feedback.status(m, 0))
        worker.returned.connect(lambda scan: self._on_scan_loaded(worker, scan))
        worker.failed.connect(lambda msg: self._on_scan_failed(worker, msg))
        worker.cancelled.connect(lambda: self.w.feedback.status("", 1))
        self._load_worker = worker
        self.w.jobs.launch(worker)
        return worker

    def _on_scan_loaded(self, worker: GeneratorWorker, scan) -> None:
        if worker is not self._load_worker:
            return
        self._load_worker = None
        if self.w.analysis.worker is not None:
            self.w.analysis.worker.cancel()  # its result would belong to the previous scan
        self.w.state.set_scan(scan)
        path = scan.volume.path
        if path is not None:
            self.w.settings.add_recent_file(path)
            self.w.settings.last_open_folder = str(Path(path).absolute().parent)
            self.fill_recent_menu()
        self.w.feedback.status(f"Opened {scan.name}", 5000)
        self.w.ortho.active_view.setFocus()
        self.w.scan_loaded.emit(scan)

    def _on_scan_failed(self, worker: GeneratorWorker, message: str) -> None:
        if worker is not self._load_worker:
            return
        self._load_worker = None
        self.w.show_error("Cannot open scan", message)
        self.w.scan_failed.emit(message)
